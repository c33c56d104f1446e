#include "tests/support/container_fixture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "lxm/runtime/idmap.hpp"

namespace lxm::test {

namespace fs = std::filesystem;

std::string cached_rootfs(const std::string& recipe, std::string* why) {
    if (::geteuid() != 0) {
        *why = "building a rootfs needs root";
        return {};
    }
    base::SpawnOptions o;
    o.argv = {source_dir() + "/scripts/build-rootfs.sh", source_dir() + "/templates/recipes/" + recipe + ".yaml"};
    o.timeout = std::chrono::minutes(15);
    auto r = base::spawn_capture(o);
    if (!r || !r->success()) {
        *why = "cannot build rootfs " + recipe + ": " + (r ? r->err : r.error().message());
        return {};
    }
    std::string path = r->out;
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    return path;
}

TestContainer::TestContainer(const std::string& recipe, const std::string& name) : tmp_("ct") {
    rootfs_ = cached_rootfs(recipe, &why_);
    // A host id range per test process (tests of one binary run one at a time).
    base_ = 2000000 + static_cast<uint32_t>(::getpid() % 4000) * 65536;
    spec_.name = name;
    spec_.rootfs = rootfs_;
    spec_.upper_dir = tmp_ / "upper";
    spec_.work_dir = tmp_ / "work";
    spec_.run_dir = tmp_ / "run";
    spec_.log_dir = tmp_ / "log";
    spec_.idmap = runtime::make_idmap(base_);
    spec_.cgroup_parent = "lxmt-" + std::to_string(::getpid());
    if (recipe == "busybox") spec_.stop_signal = SIGUSR2;
}

TestContainer::~TestContainer() {
    // The monitor may have been started by another process (a forked launcher):
    // monitor_pid() also reads it from the run dir.
    if (monitor_alive()) {
        if (auto c = client(); c) (void)c->stop(0, true);
        if (!wait_monitor_gone(10000)) ::kill(monitor_pid(), SIGKILL);
        wait_monitor_gone(5000);
    }
    // The cgroup parent of this test: remove it wherever it is (it must be empty by now;
    // a monitor that just exited may still be leaving its cgroup, so retry briefly).
    for (int attempt = 0; attempt < 50; ++attempt) {
        bool left = false;
        for (const auto& d : cgroup_dirs("")) {
            std::error_code ec;
            if (!fs::exists(d, ec)) continue;
            std::vector<std::string> dirs;
            for (auto& e : fs::recursive_directory_iterator(d, ec))
                if (e.is_directory()) dirs.push_back(e.path());
            std::sort(dirs.rbegin(), dirs.rend());
            for (const auto& sub : dirs) ::rmdir(sub.c_str());
            if (::rmdir(d.c_str()) != 0 && errno != ENOENT) left = true;
        }
        if (!left) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

pid_t TestContainer::monitor_pid() const {
    if (launched_) return launched_->monitor_pid;
    auto text = base::read_file(spec_.run_dir + "/monitor.pid");
    if (!text) return -1;
    try {
        return static_cast<pid_t>(std::stol(*text));
    } catch (...) {
        return -1;
    }
}

std::vector<std::string> TestContainer::cgroup_dirs(const std::string& rel) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        if (!e.is_directory() || e.is_symlink()) continue;
        out.push_back(e.path().string() + "/" + spec_.cgroup_parent + (rel.empty() ? "" : "/" + rel));
    }
    return out;
}

base::Result<void> TestContainer::install_probe() {
    std::string dst_dir = spec_.upper_dir + "/usr/local/bin";
    LXM_TRY_VOID(base::mkdir_p(dst_dir));
    LXM_TRY(std::string data, base::read_file(bin("lxm-probe"), 64 << 20));
    LXM_TRY_VOID(base::write_file(dst_dir + "/lxm-probe", data, true, 0755));
    // The upper layer belongs to the container's host ids.
    for (std::string p = dst_dir; p.size() > spec_.upper_dir.size(); p = p.substr(0, p.rfind('/')))
        if (::chown(p.c_str(), base_, base_) != 0) return base::errno_error("chown " + p);
    if (::chown((dst_dir + "/lxm-probe").c_str(), base_, base_) != 0) return base::errno_error("chown probe");
    return {};
}

base::Result<runtime::LaunchResult> TestContainer::start() {
    std::string spec_path = tmp_ / "spec.json";
    LXM_TRY_VOID(base::write_file(spec_path, nlohmann::json(spec_).dump(2), true, 0600));
    LXM_TRY(runtime::LaunchResult r, runtime::launch_monitor(bin("lxm-monitor"), spec_path));
    launched_ = r;
    return r;
}

base::Result<runtime::MonitorClient> TestContainer::client() {
    return runtime::MonitorClient::connect(spec_.monitor_socket());
}

base::Result<ExecResult> TestContainer::exec(const std::vector<std::string>& args, int timeout_s) {
    LXM_TRY(runtime::MonitorClient c, client());
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) return base::errno_error("pipe");
    base::UniqueFd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
    runtime::ExecRequest req;
    req.args = args;
    int stdio[3] = {in_r.get(), out_w.get(), err_w.get()};
    LXM_TRY(runtime::ExecHandle h, c.exec(req, stdio));
    in_r.reset();
    in_w.reset();
    out_w.reset();
    err_w.reset();
    ExecResult res;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
        pollfd p[2] = {{out_open ? out_r.get() : -1, POLLIN, 0}, {err_open ? err_r.get() : -1, POLLIN, 0}};
        int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        deadline - std::chrono::steady_clock::now()).count());
        if (left <= 0) {
            (void)c.signal(h.pid, SIGKILL);
            return base::make_error(std::errc::timed_out, "exec timed out: " + args[0]);
        }
        if (::poll(p, 2, left) < 0 && errno != EINTR) return base::errno_error("poll");
        char buf[4096];
        for (int i = 0; i < 2; ++i) {
            if (!p[i].revents) continue;
            ssize_t n = ::read(p[i].fd, buf, sizeof buf);
            if (n <= 0) (i == 0 ? out_open : err_open) = false;
            else (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(n));
        }
    }
    LXM_TRY(res.code, runtime::wait_exec(h));
    return res;
}

base::Result<int> TestContainer::stop(int timeout_s, bool force) {
    LXM_TRY(runtime::MonitorClient c, client());
    return c.stop(timeout_s, force);
}

bool TestContainer::monitor_alive() const {
    pid_t pid = monitor_pid();
    if (pid <= 0 || ::kill(pid, 0) != 0) return false;
    // Only ever our own monitor: the pid must still run lxm-monitor with this spec.
    auto cmd = base::read_file("/proc/" + std::to_string(pid) + "/cmdline");
    return cmd && cmd->find("lxm-monitor") != std::string::npos && cmd->find(tmp_.path()) != std::string::npos;
}

bool TestContainer::wait_monitor_gone(int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (!monitor_alive()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return !monitor_alive();
}

}  // namespace lxm::test
