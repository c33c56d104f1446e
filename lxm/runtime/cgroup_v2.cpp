#include "lxm/runtime/cgroup_v2.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/runtime/cgroup_device_bpf.hpp"
#include "lxm/runtime/cgroup_fs.hpp"

namespace lxm::runtime {

namespace fs = cgroup_fs;
using base::Result;
using std::chrono::milliseconds;

namespace {

constexpr unsigned long kMountFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
// The controllers lxm enables for its cgroups (what CgroupLimits needs, plus cpuset).
constexpr const char* kWanted[] = {"cpuset", "cpu", "io", "memory", "pids"};

bool has_word(std::string_view text, std::string_view word) {
    size_t pos = 0;
    while ((pos = text.find(word, pos)) != std::string_view::npos) {
        bool start = pos == 0 || text[pos - 1] == ' ' || text[pos - 1] == '\n';
        size_t end = pos + word.size();
        bool stop = end == text.size() || text[end] == ' ' || text[end] == '\n';
        if (start && stop) return true;
        pos = end;
    }
    return false;
}

}  // namespace

CgroupV2Driver::CgroupV2Driver(CgroupLayout layout) : layout_(std::move(layout)) {}

std::string CgroupV2Driver::dir(const std::string& path) const { return layout_.unified_path() + "/" + path; }

Result<void> CgroupV2Driver::enable_controllers(const std::string& d) const {
    LXM_TRY(auto available, fs::read(d, "cgroup.controllers"));
    LXM_TRY(auto enabled, fs::read(d, "cgroup.subtree_control"));
    for (const char* c : kWanted) {
        if (!has_word(available, c) || has_word(enabled, c)) continue;
        auto r = fs::write(d, "cgroup.subtree_control", std::string("+") + c);
        if (!r) {
            if (r.error().code == std::errc::device_or_resource_busy)
                return std::unexpected(base::wrap(r.error(), "enable controller " + std::string(c) + " in " + d +
                                                                 " (it holds processes itself)"));
            return std::unexpected(base::wrap(r.error(), "enable controller " + std::string(c)));
        }
    }
    return {};
}

Result<void> CgroupV2Driver::create(const std::string& path) {
    LXM_TRY(auto parts, split_cgroup_path(path));
    auto ctx = "create cgroup " + path;
    base::Reverter revert;
    std::string cur = layout_.unified_path();
    for (size_t i = 0; i < parts.size(); ++i) {
        LXM_TRY_VOID(base::wrap(enable_controllers(cur), ctx));
        cur += "/" + parts[i];
        if (::mkdir(cur.c_str(), 0755) != 0) {
            if (errno != EEXIST) return base::errno_error(ctx + ": mkdir " + cur);
            if (i + 1 == parts.size()) return base::make_error(std::errc::file_exists, ctx + ": it already exists");
            continue;
        }
        revert.add([cur] { ::rmdir(cur.c_str()); });
    }
    revert.success();
    return {};
}

Result<void> CgroupV2Driver::destroy(const std::string& path) {
    LXM_TRY_VOID(split_cgroup_path(path));
    return base::wrap(fs::remove_tree(dir(path)), "destroy cgroup " + path);
}

Result<void> CgroupV2Driver::attach(const std::string& path, pid_t pid) {
    LXM_TRY_VOID(split_cgroup_path(path));
    return base::wrap(fs::write(dir(path), "cgroup.procs", std::to_string(pid)),
                      "attach " + std::to_string(pid) + " to cgroup " + path);
}

Result<void> CgroupV2Driver::chown_for_container(const std::string& path, uid_t uid, gid_t gid) {
    LXM_TRY_VOID(split_cgroup_path(path));
    // The files the kernel lists in /sys/kernel/cgroup/delegate.
    static const char* const kFiles[] = {"cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "memory.reclaim",
                                         "memory.peak"};
    std::string d = dir(path);
    if (::chown(d.c_str(), uid, gid) != 0) return base::errno_error("chown cgroup " + d);
    for (const char* f : kFiles) {
        std::string p = d + "/" + f;
        if (::fchownat(AT_FDCWD, p.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT)
            return base::errno_error("chown " + p);
    }
    return {};
}

Result<void> CgroupV2Driver::apply_limits(const std::string& path, const CgroupLimits& l) {
    LXM_TRY_VOID(split_cgroup_path(path));
    LXM_TRY_VOID(validate_limits(l));
    std::string d = dir(path);
    auto need = [&](bool wanted, const char* what, const char* ctrl, const char* file) -> Result<void> {
        if (!wanted || fs::exists(d, file)) return {};
        return base::make_error(std::errc::not_supported,
                                "cgroup " + path + ": " + what + " is set but the cgroup v2 '" + ctrl +
                                    "' controller is not enabled for it (no " + file + ")");
    };
    // Check everything first, so a missing controller writes nothing.
    LXM_TRY_VOID(need(l.memory_max.has_value(), "memory_max", "memory", "memory.max"));
    LXM_TRY_VOID(need(l.memory_swap_max.has_value(), "memory_swap_max", "memory", "memory.swap.max"));
    LXM_TRY_VOID(need(l.cpu_quota_us.has_value(), "cpu_quota_us", "cpu", "cpu.max"));
    LXM_TRY_VOID(need(l.cpu_weight.has_value(), "cpu_weight", "cpu", "cpu.weight"));
    LXM_TRY_VOID(need(l.pids_max.has_value(), "pids_max", "pids", "pids.max"));
    bool bfq = l.io_weight && !fs::exists(d, "io.weight");
    LXM_TRY_VOID(need(bfq, "io_weight", "io", "io.bfq.weight"));

    auto ctx = "apply limits to cgroup " + path;
    auto put = [&](const char* file, const std::string& value) { return base::wrap(fs::write(d, file, value), ctx); };
    auto max_or = [](int64_t v) { return v < 0 ? std::string("max") : std::to_string(v); };
    if (l.memory_max) LXM_TRY_VOID(put("memory.max", max_or(*l.memory_max)));
    if (l.memory_swap_max) LXM_TRY_VOID(put("memory.swap.max", max_or(*l.memory_swap_max)));
    if (l.cpu_quota_us)
        LXM_TRY_VOID(put("cpu.max", max_or(*l.cpu_quota_us) + " " + std::to_string(l.cpu_period_us)));
    if (l.cpu_weight) LXM_TRY_VOID(put("cpu.weight", std::to_string(*l.cpu_weight)));
    if (l.pids_max) LXM_TRY_VOID(put("pids.max", max_or(*l.pids_max)));
    if (l.io_weight) {
        if (bfq) LXM_TRY_VOID(put("io.bfq.weight", std::to_string(io_weight_to_bfq_weight(*l.io_weight))));
        else LXM_TRY_VOID(put("io.weight", "default " + std::to_string(*l.io_weight)));
    }
    return {};
}

Result<void> CgroupV2Driver::apply_device_rules(const std::string& path, const std::vector<DeviceRule>& rules) {
    LXM_TRY_VOID(split_cgroup_path(path));
    return apply_device_bpf(dir(path), rules);
}

Result<void> CgroupV2Driver::set_frozen(const std::string& path, bool frozen, milliseconds timeout) {
    LXM_TRY_VOID(split_cgroup_path(path));
    std::string d = dir(path);
    const char* verb = frozen ? "freeze" : "thaw";
    LXM_TRY_VOID(base::wrap(fs::write(d, "cgroup.freeze", frozen ? "1" : "0"), std::string(verb) + " cgroup " + path));
    auto r = fs::wait_until(
        [&]() -> Result<bool> {
            LXM_TRY(auto ev, fs::read(d, "cgroup.events"));
            return fs::keyed_value(ev, "frozen") == (frozen ? "1" : "0");
        },
        timeout, "cgroup " + path + " to " + verb);
    if (!r && frozen) (void)fs::write(d, "cgroup.freeze", "0");
    return r;
}

Result<void> CgroupV2Driver::freeze(const std::string& path, milliseconds timeout) {
    return set_frozen(path, true, timeout);
}

Result<void> CgroupV2Driver::thaw(const std::string& path, milliseconds timeout) {
    return set_frozen(path, false, timeout);
}

Result<void> CgroupV2Driver::kill_all(const std::string& path, milliseconds timeout) {
    LXM_TRY_VOID(split_cgroup_path(path));
    auto ctx = "kill all in cgroup " + path;
    std::string d = dir(path);
    if (!base::path_exists(d)) return {};
    auto empty = [&]() -> Result<bool> {
        LXM_TRY(auto ev, fs::read(d, "cgroup.events"));
        return fs::keyed_value(ev, "populated") == "0";
    };
    if (fs::exists(d, "cgroup.kill")) {
        LXM_TRY_VOID(base::wrap(fs::write(d, "cgroup.kill", "1"), ctx));
        return base::wrap(fs::wait_until(empty, timeout, "cgroup " + path + " to be empty"), ctx);
    }
    // Before 5.14: freeze, kill what is listed, thaw, until empty.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        LXM_TRY(auto pids, base::wrap(fs::subtree_pids(d), ctx));
        if (pids.empty()) return {};
        auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return base::make_error(std::errc::timed_out,
                                    ctx + ": processes remain after " + std::to_string(timeout.count()) + " ms");
        (void)set_frozen(path, true, left);
        for (pid_t pid : pids)
            if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) return base::errno_error(ctx + ": kill " + std::to_string(pid));
        LXM_TRY_VOID(base::wrap(set_frozen(path, false, std::max(left, milliseconds(1000))), ctx));
        (void)fs::wait_until(empty, std::min(left, milliseconds(200)), "cgroup " + path + " to be empty");
    }
}

Result<std::vector<pid_t>> CgroupV2Driver::pids(const std::string& path) {
    LXM_TRY_VOID(split_cgroup_path(path));
    return base::wrap(fs::subtree_pids(dir(path)), "pids of cgroup " + path);
}

Result<bool> CgroupV2Driver::is_populated(const std::string& path) {
    LXM_TRY_VOID(split_cgroup_path(path));
    LXM_TRY(auto ev, base::wrap(fs::read(dir(path), "cgroup.events"), "cgroup " + path));
    return fs::keyed_value(ev, "populated") == "1";
}

Result<CgroupStats> CgroupV2Driver::stats(const std::string& path) {
    LXM_TRY_VOID(split_cgroup_path(path));
    std::string d = dir(path);
    auto ctx = "stats of cgroup " + path;
    auto number = [&](std::string_view text, const char* what) -> Result<std::optional<uint64_t>> {
        auto v = fs::parse_u64(text);
        if (!v) return base::make_error(std::errc::bad_message, ctx + ": bad " + what + " '" + std::string(text) + "'");
        return v;
    };
    CgroupStats s;
    if (fs::exists(d, "memory.current")) {
        LXM_TRY(auto t, base::wrap(fs::read(d, "memory.current"), ctx));
        LXM_TRY(s.memory_bytes, number(t, "memory.current"));
    }
    if (fs::exists(d, "cpu.stat")) {
        LXM_TRY(auto t, base::wrap(fs::read(d, "cpu.stat"), ctx));
        if (auto usec = fs::keyed_value(t, "usage_usec")) {
            LXM_TRY(auto v, number(*usec, "cpu.stat usage_usec"));
            s.cpu_usage_ns = *v * 1000;
        }
    }
    if (fs::exists(d, "pids.current")) {
        LXM_TRY(auto t, base::wrap(fs::read(d, "pids.current"), ctx));
        LXM_TRY(s.pids, number(t, "pids.current"));
    }
    return s;
}

Result<std::vector<CgroupMount>> CgroupV2Driver::container_mounts(const std::string& path) const {
    LXM_TRY_VOID(split_cgroup_path(path));
    return std::vector<CgroupMount>{{"cgroup2", "", "cgroup2", "", kMountFlags, false, {}}};
}

}  // namespace lxm::runtime
