#include "lxm/runtime/cgroup_v1.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <span>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/runtime/cgroup_device_bpf.hpp"
#include "lxm/runtime/cgroup_fs.hpp"

namespace lxm::runtime {

namespace fs = cgroup_fs;
using base::Result;
using std::chrono::milliseconds;

namespace {

constexpr unsigned long kMountFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;

bool is_blank(const std::string& s) { return s.find_first_not_of(" \n\t") == std::string::npos; }

// A new cpuset cgroup starts with no cpus and no mems, and nothing can join it: copy the parent's.
Result<void> init_cpuset(const std::string& parent, const std::string& dir) {
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        LXM_TRY(auto mine, fs::read(dir, file));
        if (!is_blank(mine)) continue;
        LXM_TRY(auto theirs, fs::read(parent, file));
        if (is_blank(theirs)) continue;
        LXM_TRY_VOID(fs::write(dir, file, theirs));
    }
    // Children that a delegated manager makes below inherit cpus and mems.
    return fs::write(dir, "cgroup.clone_children", "1");
}

Result<milliseconds> remaining(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return base::make_error(std::errc::timed_out, "timed out");
    return left;
}

std::string join(const std::string& base, const std::string& path) { return base + "/" + path; }

}  // namespace

CgroupV1Driver::CgroupV1Driver(CgroupLayout layout) : layout_(std::move(layout)) {}

std::vector<CgroupV1Driver::Tree> CgroupV1Driver::trees() const {
    std::vector<Tree> out;
    for (const auto& h : layout_.v1) {
        std::string label = h.controllers.empty() ? "name=" + h.name : h.mount_dir;
        out.push_back({label, layout_.root + "/" + h.mount_dir, h.has("cpuset"), false});
    }
    if (layout_.unified_dir) out.push_back({"cgroup2", layout_.unified_path(), false, true});
    return out;
}

std::string CgroupV1Driver::dir_for(std::string_view controller, const std::string& path) const {
    const auto* h = layout_.hierarchy_for(controller);
    return h ? layout_.root + "/" + h->mount_dir + "/" + path : std::string();
}

std::string CgroupV1Driver::unified_dir(const std::string& path) const {
    return layout_.unified_dir ? join(layout_.unified_path(), path) : std::string();
}

std::string CgroupV1Driver::tracking_dir(const std::string& path) const {
    if (layout_.unified_dir) return unified_dir(path);
    if (auto d = dir_for("freezer", path); !d.empty()) return d;
    return layout_.root + "/" + layout_.v1.front().mount_dir + "/" + path;
}

Result<void> CgroupV1Driver::create(const std::string& path) {
    LXM_TRY(auto parts, split_cgroup_path(path));
    base::Reverter revert;
    for (const auto& tree : trees()) {
        std::string cur = tree.base;
        for (size_t i = 0; i < parts.size(); ++i) {
            std::string parent = cur;
            cur += "/" + parts[i];
            if (::mkdir(cur.c_str(), 0755) != 0) {
                if (errno != EEXIST) return base::errno_error("create cgroup " + path + ": mkdir " + cur);
                if (i + 1 == parts.size())
                    return base::make_error(std::errc::file_exists,
                                            "create cgroup " + path + ": it already exists in " + tree.label);
                continue;
            }
            revert.add([cur] { ::rmdir(cur.c_str()); });
            if (tree.cpuset) {
                auto r = init_cpuset(parent, cur);
                if (!r) return std::unexpected(base::wrap(r.error(), "create cgroup " + path));
            }
        }
    }
    revert.success();
    return {};
}

Result<void> CgroupV1Driver::destroy(const std::string& path) {
    LXM_TRY_VOID(split_cgroup_path(path));
    // Every tree gets its try; the first failure is reported.
    Result<void> first;
    for (const auto& tree : trees()) {
        auto r = fs::remove_tree(join(tree.base, path));
        if (!r && first) first = std::unexpected(base::wrap(r.error(), "destroy cgroup " + path + " in " + tree.label));
    }
    return first;
}

Result<void> CgroupV1Driver::attach(const std::string& path, pid_t pid) {
    LXM_TRY_VOID(split_cgroup_path(path));
    for (const auto& tree : trees()) {
        auto r = fs::write(join(tree.base, path), "cgroup.procs", std::to_string(pid));
        if (!r) return std::unexpected(base::wrap(r.error(), "attach " + std::to_string(pid) + " to cgroup " + path +
                                                                 " in " + tree.label));
    }
    return {};
}

Result<void> CgroupV1Driver::chown_for_container(const std::string& path, uid_t uid, gid_t gid) {
    LXM_TRY_VOID(split_cgroup_path(path));
    static const char* const kV1Files[] = {"cgroup.procs", "tasks", "cgroup.clone_children", "notify_on_release"};
    static const char* const kV2Files[] = {"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"};
    for (const auto& tree : trees()) {
        std::string dir = join(tree.base, path);
        if (::chown(dir.c_str(), uid, gid) != 0) return base::errno_error("chown cgroup " + dir);
        auto files = tree.unified ? std::span<const char* const>(kV2Files) : std::span<const char* const>(kV1Files);
        for (const char* f : files) {
            std::string p = dir + "/" + f;
            if (::fchownat(AT_FDCWD, p.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT)
                return base::errno_error("chown " + p);
        }
    }
    return {};
}

Result<void> CgroupV1Driver::apply_limits(const std::string& path, const CgroupLimits& l) {
    LXM_TRY_VOID(split_cgroup_path(path));
    LXM_TRY_VOID(validate_limits(l));
    auto missing = [&](const std::string& what, const std::string& ctrl) {
        return base::make_error(std::errc::not_supported, "cgroup " + path + ": " + what +
                                                              " is set but the v1 '" + ctrl + "' controller is not mounted");
    };
    // Check everything first, so a missing controller writes nothing.
    std::string mem = dir_for("memory", path), cpu = dir_for("cpu", path), pids = dir_for("pids", path),
                blkio = dir_for("blkio", path);
    if (l.memory_max && mem.empty()) return missing("memory_max", "memory");
    if (l.memory_swap_max) {
        if (mem.empty()) return missing("memory_swap_max", "memory");
        if (!fs::exists(mem, "memory.memsw.limit_in_bytes"))
            return base::make_error(std::errc::not_supported,
                                    "cgroup " + path + ": memory_swap_max is set but memory.memsw.limit_in_bytes is "
                                    "missing (swap accounting is off: boot with swapaccount=1)");
        if (!l.memory_max)
            return base::make_error(std::errc::invalid_argument,
                                    "cgroup " + path + ": on cgroup v1 memory_swap_max needs memory_max "
                                    "(the kernel limits memory+swap)");
    }
    if ((l.cpu_quota_us || l.cpu_weight) && cpu.empty()) return missing(l.cpu_weight ? "cpu_weight" : "cpu_quota_us", "cpu");
    if (l.pids_max && pids.empty()) return missing("pids_max", "pids");
    std::string io_file;
    if (l.io_weight) {
        if (blkio.empty()) return missing("io_weight", "blkio");
        if (fs::exists(blkio, "blkio.weight")) io_file = "blkio.weight";
        else if (fs::exists(blkio, "blkio.bfq.weight")) io_file = "blkio.bfq.weight";
        else
            return base::make_error(std::errc::not_supported,
                                    "cgroup " + path + ": io_weight is set but neither blkio.weight nor "
                                    "blkio.bfq.weight exists (no CFQ or BFQ I/O scheduler)");
    }

    auto ctx = "apply limits to cgroup " + path;
    auto put = [&](const std::string& dir, const char* file, const std::string& value) {
        return base::wrap(fs::write(dir, file, value), ctx);
    };
    if (l.memory_max) {
        std::string limit = *l.memory_max < 0 ? "-1" : std::to_string(*l.memory_max);
        if (!l.memory_swap_max) {
            LXM_TRY_VOID(put(mem, "memory.limit_in_bytes", limit));
        } else {
            std::string memsw = (*l.memory_max < 0 || *l.memory_swap_max < 0)
                                    ? "-1"
                                    : std::to_string(*l.memory_max + *l.memory_swap_max);
            // memsw may never be below the memory limit: the order depends on the old values.
            auto first = fs::write(mem, "memory.limit_in_bytes", limit);
            if (!first && first.error().code != std::errc::invalid_argument)
                return std::unexpected(base::wrap(first.error(), ctx));
            LXM_TRY_VOID(put(mem, "memory.memsw.limit_in_bytes", memsw));
            if (!first) LXM_TRY_VOID(put(mem, "memory.limit_in_bytes", limit));
        }
    }
    if (l.cpu_quota_us) {
        LXM_TRY_VOID(put(cpu, "cpu.cfs_period_us", std::to_string(l.cpu_period_us)));
        LXM_TRY_VOID(put(cpu, "cpu.cfs_quota_us", std::to_string(*l.cpu_quota_us)));
    }
    if (l.cpu_weight) LXM_TRY_VOID(put(cpu, "cpu.shares", std::to_string(cpu_weight_to_shares(*l.cpu_weight))));
    if (l.pids_max) LXM_TRY_VOID(put(pids, "pids.max", *l.pids_max < 0 ? "max" : std::to_string(*l.pids_max)));
    if (l.io_weight) {
        uint64_t w = io_file == "blkio.weight" ? io_weight_to_blkio_weight(*l.io_weight)
                                               : io_weight_to_bfq_weight(*l.io_weight);
        LXM_TRY_VOID(put(blkio, io_file.c_str(), std::to_string(w)));
    }
    return {};
}

Result<void> CgroupV1Driver::apply_device_rules(const std::string& path, const std::vector<DeviceRule>& rules) {
    LXM_TRY_VOID(split_cgroup_path(path));
    for (const auto& r : rules) LXM_TRY_VOID(validate_device_rule(r));
    std::string dir = dir_for("devices", path);
    if (dir.empty()) {
        // Hybrid hosts without the v1 devices controller: the cgroup2 device program still works.
        if (layout_.unified_dir) return apply_device_bpf(unified_dir(path), rules);
        return base::make_error(std::errc::not_supported,
                                "device policy for cgroup " + path + ": the v1 'devices' controller is not mounted");
    }
    auto ctx = "device policy for cgroup " + path;
    LXM_TRY_VOID(base::wrap(fs::write(dir, "devices.deny", "a"), ctx));
    for (const auto& r : rules) LXM_TRY_VOID(base::wrap(fs::write(dir, "devices.allow", to_v1_line(r)), ctx));
    return {};
}

Result<void> CgroupV1Driver::freeze(const std::string& path, milliseconds timeout) {
    LXM_TRY_VOID(split_cgroup_path(path));
    std::string dir = dir_for("freezer", path);
    if (dir.empty()) {
        if (layout_.unified_dir && fs::exists(unified_dir(path), "cgroup.freeze")) {
            std::string u = unified_dir(path);
            LXM_TRY_VOID(fs::write(u, "cgroup.freeze", "1"));
            auto r = fs::wait_until(
                [&]() -> Result<bool> {
                    LXM_TRY(auto ev, fs::read(u, "cgroup.events"));
                    return fs::keyed_value(ev, "frozen") == "1";
                },
                timeout, "cgroup " + path + " to freeze");
            if (!r) (void)fs::write(u, "cgroup.freeze", "0");
            return r;
        }
        return base::make_error(std::errc::not_supported, "freeze cgroup " + path + ": the v1 'freezer' controller is not mounted");
    }
    LXM_TRY_VOID(base::wrap(fs::write(dir, "freezer.state", "FROZEN"), "freeze cgroup " + path));
    auto r = fs::wait_until(
        [&]() -> Result<bool> {
            LXM_TRY(auto state, fs::read(dir, "freezer.state"));
            if (state == "FROZEN") return true;
            // Ask again: tasks that were busy (e.g. in vfork) are retried by a new write.
            LXM_TRY_VOID(fs::write(dir, "freezer.state", "FROZEN"));
            return false;
        },
        timeout, "cgroup " + path + " to freeze");
    if (!r) (void)fs::write(dir, "freezer.state", "THAWED");
    return r;
}

Result<void> CgroupV1Driver::thaw(const std::string& path, milliseconds timeout) {
    LXM_TRY_VOID(split_cgroup_path(path));
    std::string dir = dir_for("freezer", path);
    if (dir.empty()) {
        if (layout_.unified_dir && fs::exists(unified_dir(path), "cgroup.freeze")) {
            std::string u = unified_dir(path);
            LXM_TRY_VOID(fs::write(u, "cgroup.freeze", "0"));
            return fs::wait_until(
                [&]() -> Result<bool> {
                    LXM_TRY(auto ev, fs::read(u, "cgroup.events"));
                    return fs::keyed_value(ev, "frozen") == "0";
                },
                timeout, "cgroup " + path + " to thaw");
        }
        return base::make_error(std::errc::not_supported, "thaw cgroup " + path + ": the v1 'freezer' controller is not mounted");
    }
    LXM_TRY_VOID(base::wrap(fs::write(dir, "freezer.state", "THAWED"), "thaw cgroup " + path));
    return fs::wait_until(
        [&]() -> Result<bool> {
            LXM_TRY(auto state, fs::read(dir, "freezer.state"));
            return state == "THAWED";
        },
        timeout, "cgroup " + path + " to thaw");
}

Result<void> CgroupV1Driver::kill_all(const std::string& path, milliseconds timeout) {
    LXM_TRY_VOID(split_cgroup_path(path));
    auto ctx = "kill all in cgroup " + path;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string track = tracking_dir(path);
    if (!base::path_exists(track)) return {};
    auto empty = [&]() -> Result<bool> {
        LXM_TRY(auto pids, fs::subtree_pids(track));
        return pids.empty();
    };
    // Hybrid: the cgroup2 directory can kill the whole subtree in one write.
    if (layout_.unified_dir && fs::exists(track, "cgroup.kill")) {
        LXM_TRY_VOID(base::wrap(fs::write(track, "cgroup.kill", "1"), ctx));
        return base::wrap(fs::wait_until(empty, timeout, "cgroup " + path + " to be empty"), ctx);
    }
    // Freeze so nothing forks between reading the pids and killing them, kill, thaw so the
    // signals are delivered, and again until nothing is left.
    bool can_freeze = !dir_for("freezer", path).empty();
    for (;;) {
        LXM_TRY(auto pids, base::wrap(fs::subtree_pids(track), ctx));
        if (pids.empty()) return {};
        auto left = remaining(deadline);
        if (!left) return base::make_error(std::errc::timed_out, ctx + ": processes remain after " +
                                                                  std::to_string(timeout.count()) + " ms");
        if (can_freeze) {
            auto r = freeze(path, *left);
            if (!r) LXM_DEBUG("{}: freeze failed, killing unfrozen: {}", ctx, r.error().message());
        }
        for (pid_t pid : pids)
            if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) return base::errno_error(ctx + ": kill " + std::to_string(pid));
        if (can_freeze) LXM_TRY_VOID(base::wrap(thaw(path, std::max(*left, milliseconds(1000))), ctx));
        (void)fs::wait_until(empty, std::min(*left, milliseconds(200)), "cgroup " + path + " to be empty");
    }
}

Result<std::vector<pid_t>> CgroupV1Driver::pids(const std::string& path) {
    LXM_TRY_VOID(split_cgroup_path(path));
    return base::wrap(fs::subtree_pids(tracking_dir(path)), "pids of cgroup " + path);
}

Result<bool> CgroupV1Driver::is_populated(const std::string& path) {
    LXM_TRY_VOID(split_cgroup_path(path));
    if (layout_.unified_dir) {
        LXM_TRY(auto ev, base::wrap(fs::read(unified_dir(path), "cgroup.events"), "cgroup " + path));
        return fs::keyed_value(ev, "populated") == "1";
    }
    LXM_TRY(auto list, pids(path));
    return !list.empty();
}

Result<CgroupStats> CgroupV1Driver::stats(const std::string& path) {
    LXM_TRY_VOID(split_cgroup_path(path));
    CgroupStats s;
    auto number = [&](const std::string& dir, const char* file) -> Result<std::optional<uint64_t>> {
        if (dir.empty() || !fs::exists(dir, file)) return std::optional<uint64_t>();
        LXM_TRY(auto text, base::wrap(fs::read(dir, file), "stats of cgroup " + path));
        auto v = fs::parse_u64(text);
        if (!v) return base::make_error(std::errc::bad_message, "stats of cgroup " + path + ": bad " + file + " '" + text + "'");
        return v;
    };
    LXM_TRY(s.memory_bytes, number(dir_for("memory", path), "memory.usage_in_bytes"));
    LXM_TRY(s.cpu_usage_ns, number(dir_for("cpuacct", path), "cpuacct.usage"));
    LXM_TRY(s.pids, number(dir_for("pids", path), "pids.current"));
    return s;
}

Result<std::vector<CgroupMount>> CgroupV1Driver::container_mounts(const std::string& path) const {
    LXM_TRY_VOID(split_cgroup_path(path));
    std::vector<CgroupMount> out;
    out.push_back({"tmpfs", "", "tmpfs", "mode=755,size=64k", kMountFlags, false, {}});
    std::vector<std::string> taken;
    for (const auto& h : layout_.v1) {
        out.push_back({"cgroup", h.mount_dir, "cgroup", h.mount_data(), kMountFlags, false, {}});
        taken.push_back(h.mount_dir);
    }
    // Co-mounted controllers get a link per controller: cpu -> cpu,cpuacct.
    for (const auto& h : layout_.v1) {
        if (h.controllers.size() < 2) continue;
        for (const auto& c : h.controllers) {
            if (c == h.mount_dir || std::find(taken.begin(), taken.end(), c) != taken.end()) continue;
            out.push_back({"", c, "", "", 0, true, h.mount_dir});
            taken.push_back(c);
        }
    }
    if (layout_.unified_dir) out.push_back({"cgroup2", *layout_.unified_dir, "cgroup2", "", kMountFlags, false, {}});
    return out;
}

}  // namespace lxm::runtime
