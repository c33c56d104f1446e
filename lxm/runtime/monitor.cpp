#include "lxm/runtime/monitor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/base/memory.hpp"
#include "lxm/runtime/apparmor.hpp"
#include "lxm/runtime/caps.hpp"
#include "lxm/runtime/cgroup_join.hpp"
#include "lxm/runtime/fd_msg.hpp"
#include "lxm/runtime/idmap.hpp"
#include "lxm/runtime/mount.hpp"
#include "lxm/runtime/rootfs.hpp"

namespace lxm::runtime {

using base::Result;
using base::UniqueFd;
using nlohmann::json;

const char* to_string(MonitorStatus s) {
    switch (s) {
        case MonitorStatus::Running: return "Running";
        case MonitorStatus::Frozen: return "Frozen";
        case MonitorStatus::Stopping: return "Stopping";
        case MonitorStatus::Stopped: return "Stopped";
    }
    return "Unknown";
}

namespace {

// The host id that an id inside the container maps to.
std::optional<uint32_t> host_id(const std::vector<IdMapEntry>& map, uint32_t inside) {
    for (const auto& e : map)
        if (inside >= e.inside && inside - e.inside < e.count) return e.outside + (inside - e.inside);
    return std::nullopt;
}

Result<UniqueFd> listen_unix(const std::string& path) {
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return base::make_error(std::errc::filename_too_long, "socket path " + path);
    std::strcpy(addr.sun_path, path.c_str());
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return base::errno_error("socket");
    UniqueFd s(fd);
    ::unlink(path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return base::errno_error("bind " + path);
    ::chmod(path.c_str(), 0600);
    if (::listen(fd, 16) != 0) return base::errno_error("listen " + path);
    return s;
}

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

int64_t now_unix() { return static_cast<int64_t>(::time(nullptr)); }

}  // namespace

Monitor::Monitor(Spec spec) : spec_(std::move(spec)) {}

Monitor::~Monitor() = default;

// ---- preparing and starting ---------------------------------------------------------

Result<void> Monitor::prepare() {
    LXM_TRY_VOID(validate(spec_));
    LXM_TRY_VOID(base::mkdir_p(spec_.run_dir, 0711));
    LXM_TRY_VOID(base::mkdir_p(spec_.log_dir, 0700));
    // The child walks to <run_dir>/rootfs as the container's root, an unprivileged host uid.
    if (!spec_.privileged) {
        for (std::string p = spec_.run_dir; !p.empty() && p != "/"; p = p.substr(0, p.rfind('/'))) {
            struct stat st;
            if (::stat(p.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH))
                return base::make_error(std::errc::permission_denied,
                                        p + " must be searchable by others (mode o+x) so the container can reach its root");
        }
    }

    // Cgroups: the payload for the container, a sibling for this monitor.
    LXM_TRY(CgroupLayout layout, CgroupLayout::detect());
    LXM_TRY(cgroup_, make_cgroup_driver(layout));
    payload_cg_ = spec_.cgroup_parent + "/" + spec_.name;
    monitor_cg_ = spec_.cgroup_parent + "/" + spec_.name + ".monitor";

    // Confinement compiled here, before clone; the child only applies it.
    std::string policy_path = spec_.seccomp_policy.empty() ? default_seccomp_policy_path() : spec_.seccomp_policy;
    if (spec_.seccomp) {
        LXM_TRY(SeccompPolicy policy, base::wrap(load_seccomp_policy(policy_path), "seccomp policy"));
        LXM_TRY(seccomp_, base::wrap(compile_seccomp(policy), "seccomp"));
    }
    for (cap_value_t c : default_cap_drop(spec_.privileged)) cap_drop_.push_back(c);
    if (apparmor_enabled()) {
        apparmor_profile_ = spec_.apparmor_profile.empty() ? apparmor_profile_name(spec_.name) : spec_.apparmor_profile;
    } else {
        apparmor_reason_ = apparmor_unavailable_reason();
    }
    return {};
}

Result<void> Monitor::launch() {
    base::Reverter rev;
    const uint32_t root_uid = spec_.privileged ? 0 : *spec_.idmap.host_root_uid();
    const uint32_t root_gid = spec_.privileged ? 0 : *spec_.idmap.host_root_gid();

    // Payload cgroup: a leftover from a crash must be empty to be reused.
    if (auto pop = cgroup_->is_populated(payload_cg_); pop && *pop)
        return base::make_error(std::errc::device_or_resource_busy,
                                "cgroup " + payload_cg_ + " still has processes: is the container already running?");
    (void)cgroup_->destroy(payload_cg_);
    LXM_TRY_VOID(base::wrap(cgroup_->create(payload_cg_), "create cgroup " + payload_cg_));
    rev.add([this] {
        (void)cgroup_->kill_all(payload_cg_);
        (void)cgroup_->destroy(payload_cg_);
    });
    LXM_TRY_VOID(cgroup_->apply_limits(payload_cg_, spec_.limits));
    LXM_TRY_VOID(cgroup_->apply_device_policy(payload_cg_));
    if (!spec_.privileged) LXM_TRY_VOID(cgroup_->chown_for_container(payload_cg_, root_uid, root_gid));
    LXM_TRY(std::vector<CgroupMount> cg_mounts, cgroup_->container_mounts(payload_cg_));

    if (!apparmor_profile_.empty()) {
        LXM_TRY(std::string tmpl, base::read_file(default_apparmor_template_path()));
        ApparmorParams p;
        p.profile_name = apparmor_profile_;
        p.container_name = spec_.name;
        p.privileged = spec_.privileged;
        LXM_TRY(std::string text, render_apparmor_profile(tmpl, p));
        LXM_TRY_VOID(base::wrap(load_apparmor_profile(text), "load AppArmor profile"));
        rev.add([this] { (void)unload_apparmor_profile(apparmor_profile_); });
    }

    // The root, in this process's private mount namespace.
    if (!spec_.privileged) {
        LXM_TRY(userns_, base::wrap(make_userns_fd(spec_.idmap), "id map"));
    }
    if (!spec_.upper_dir.empty())
        LXM_TRY_VOID(prepare_overlay_dirs(spec_.rootfs, spec_.upper_dir, spec_.work_dir, root_uid, root_gid));
    LXM_TRY(rootfs_mount_, base::wrap(assemble_rootfs(spec_, userns_ ? userns_.get() : -1), "rootfs"));
    rev.add([this] {
        (void)unmount(rootfs_mount_);
        (void)unmount(spec_.run_dir + "/lower");
    });

    // Console: tty group inside is gid 5.
    uint32_t tty_gid = spec_.privileged ? 5 : host_id(spec_.idmap.gid, 5).value_or(root_gid);
    LXM_TRY(pty_, base::wrap(open_console_pty(root_uid, tty_gid), "console"));
    set_nonblock(pty_.master.get());
    if (log_.path().empty()) {
        LXM_TRY(log_, ConsoleLog::open(spec_.console_log()));
    }

    StartContext ctx;
    ctx.rootfs_mount = rootfs_mount_;
    ctx.console_slave = pty_.slave_path;
    for (const auto& m : cg_mounts) {
        FsMount f;
        f.target = "/sys/fs/cgroup" + (m.target.empty() ? std::string() : "/" + m.target);
        if (m.is_symlink) {
            f.symlink = m.symlink_target;
        } else {
            f.source = m.source;
            f.fstype = m.fstype;
            f.data = m.data;
            f.flags = m.flags;
        }
        ctx.cgroup_mounts.push_back(std::move(f));
    }
    ctx.place_in_cgroup = [this](pid_t pid) { return cgroup_->attach(payload_cg_, pid); };
    if (!spec_.net_links.empty()) {
        if (!network_hook_)
            return base::make_error(std::errc::not_supported, "this monitor cannot move network links");
        ctx.setup_network = [this](pid_t pid) -> Result<void> {
            for (const auto& l : spec_.net_links) {
                auto eq = l.find('=');
                LXM_TRY_VOID(base::wrap(network_hook_(pid, l.substr(0, eq), l.substr(eq + 1)), "nic " + l));
            }
            return {};
        };
    }
    ctx.confine = [this]() -> Result<void> {
        if (!apparmor_profile_.empty()) LXM_TRY_VOID(apparmor_change_onexec(apparmor_profile_));
        std::vector<cap_value_t> drop(cap_drop_.begin(), cap_drop_.end());
        LXM_TRY_VOID(drop_bounding_set(drop));
        if (spec_.seccomp) LXM_TRY_VOID(apply_seccomp(seccomp_));
        return {};
    };
    LXM_TRY(init_, start_init(spec_, ctx));
    started_at_ = now_unix();
    status_ = MonitorStatus::Running;
    rev.success();
    LXM_INFO("container {} started: init pid {}", spec_.name, init_.pid);
    return {};
}

Result<void> Monitor::start() {
    base::Reverter rev;
    LXM_TRY_VOID(prepare());
    LXM_TRY_VOID(base::wrap(enter_private_mount_ns(), "monitor mount namespace"));

    // The monitor sits in its own cgroup, beside the payload.
    LXM_TRY_VOID(base::wrap(cgroup_->create(monitor_cg_), "create cgroup " + monitor_cg_));
    rev.add([this] { (void)cgroup_->destroy(monitor_cg_); });
    LXM_TRY_VOID(cgroup_->attach(monitor_cg_, ::getpid()));
    rev.add([this] { (void)cgroup_->attach(spec_.cgroup_parent, ::getpid()); });

    // Children are reaped through the signalfd; SIGTERM asks for a graceful stop.
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return base::errno_error("sigprocmask");
    int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return base::errno_error("signalfd");
    sigfd_.reset(sfd);
    ::signal(SIGPIPE, SIG_IGN);

    LXM_TRY_VOID(launch());
    LXM_TRY(listen_, listen_unix(spec_.monitor_socket()));
    (void)base::write_file_atomic(spec_.run_dir + "/monitor.pid", std::to_string(::getpid()) + "\n");
    rev.success();
    return {};
}

// ---- running ---------------------------------------------------------------------------

void Monitor::teardown_payload() {
    if (cgroup_) {
        if (auto r = cgroup_->kill_all(payload_cg_); !r) LXM_WARN("kill leftovers: {}", r.error().message());
        if (auto r = cgroup_->destroy(payload_cg_); !r) LXM_WARN("remove cgroup: {}", r.error().message());
    }
    if (!rootfs_mount_.empty()) {
        (void)unmount(rootfs_mount_);
        (void)unmount(spec_.run_dir + "/lower");
    }
    if (!apparmor_profile_.empty()) (void)unload_apparmor_profile(apparmor_profile_);
    console_peers_.clear();
    pty_ = Pty{};
    userns_.reset();
    init_ = StartedInit{};
}

void Monitor::on_init_exit(int status) {
    exit_code_ = exit_code_from_status(status);
    pump_console();
    // A reboot inside a pid namespace ends init with SIGHUP: start again, as a VM would.
    bool reboot = WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP && status_ != MonitorStatus::Stopping;
    LXM_INFO("container {}: init exited ({}){}", spec_.name, exit_code_, reboot ? ", rebooting" : "");
    teardown_payload();
    kill_deadline_.reset();
    if (reboot) {
        if (auto r = launch(); r) return;
        else LXM_ERROR("container {}: restart after reboot failed: {}", spec_.name, r.error().message());
    }
    status_ = MonitorStatus::Stopped;
    done_ = true;
}

void Monitor::begin_stop(std::chrono::seconds timeout, bool force) {
    if (status_ == MonitorStatus::Stopped) return;
    if (status_ == MonitorStatus::Frozen) (void)cgroup_->thaw(payload_cg_);
    status_ = MonitorStatus::Stopping;
    if (force) {
        force_kill();
        return;
    }
    if (::syscall(SYS_pidfd_send_signal, init_.pidfd.get(), spec_.stop_signal, nullptr, 0) != 0) {
        force_kill();
        return;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!kill_deadline_ || deadline < *kill_deadline_) kill_deadline_ = deadline;
}

void Monitor::force_kill() {
    kill_deadline_.reset();
    if (init_.pidfd) ::syscall(SYS_pidfd_send_signal, init_.pidfd.get(), SIGKILL, nullptr, 0);
    if (cgroup_) (void)cgroup_->kill_all(payload_cg_);
}

void Monitor::handle_signal() {
    struct signalfd_siginfo si;
    while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) begin_stop(std::chrono::seconds(30), false);
    }
    for (;;) {
        int st = 0;
        pid_t pid = ::waitpid(-1, &st, WNOHANG);
        if (pid <= 0) break;
        if (pid == init_.pid) {
            on_init_exit(st);
            continue;
        }
        auto it = execs_.find(pid);
        if (it == execs_.end()) continue;
        int code = exit_code_from_status(st);
        if (it->second.conn >= 0 && conns_.count(it->second.conn))
            (void)send_message(it->second.conn, json{{"event", "exit"}, {"code", code}});
        execs_.erase(it);
    }
}

json Monitor::state_json() {
    json j{{"status", to_string(status_)},
           {"pid", init_.pid},
           {"monitor_pid", ::getpid()},
           {"started_at", started_at_},
           {"apparmor", apparmor_profile_.empty() ? "unavailable: " + apparmor_reason_ : apparmor_profile_},
           {"cgroup", payload_cg_}};
    if (cgroup_ && status_ != MonitorStatus::Stopped) {
        if (auto s = cgroup_->stats(payload_cg_); s) {
            if (s->memory_bytes) j["memory_bytes"] = *s->memory_bytes;
            if (s->cpu_usage_ns) j["cpu_ns"] = *s->cpu_usage_ns;
            if (s->pids) j["pids"] = *s->pids;
        }
    }
    return j;
}

void Monitor::close_conn(int fd) {
    for (auto& [_, e] : execs_)
        if (e.conn == fd) e.conn = -1;
    conns_.erase(fd);
}

void Monitor::handle_request(int fd) {
    auto msg = recv_message(fd);
    if (!msg) {
        close_conn(fd);
        return;
    }
    const json& req = msg->body;
    std::string op = req.value("op", "");
    auto reply_error = [&](const std::string& text) { (void)send_message(fd, json{{"error", text}}); };

    if (op == "state") {
        (void)send_message(fd, state_json());
    } else if (op == "stop") {
        if (status_ == MonitorStatus::Stopped) {
            (void)send_message(fd, json{{"ok", true}, {"exit", exit_code_}});
            return;
        }
        conns_[fd].wants_stop_reply = true;
        int timeout = req.value("timeout", 30);
        begin_stop(std::chrono::seconds(timeout < 0 ? 30 : timeout), req.value("force", false));
    } else if (op == "freeze" || op == "thaw") {
        if (status_ != MonitorStatus::Running && status_ != MonitorStatus::Frozen)
            return reply_error("container is not running");
        auto r = op == "freeze" ? cgroup_->freeze(payload_cg_) : cgroup_->thaw(payload_cg_);
        if (!r) return reply_error(r.error().message());
        status_ = op == "freeze" ? MonitorStatus::Frozen : MonitorStatus::Running;
        (void)send_message(fd, json{{"ok", true}});
    } else if (op == "console") {
        if (!pty_.master) return reply_error("container has no console");
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
            return reply_error(std::string("socketpair: ") + std::strerror(errno));
        UniqueFd mine(sv[0]), theirs(sv[1]);
        if (req.contains("rows") && req.contains("cols"))
            (void)set_winsize(pty_.master.get(), req.value("rows", 24u), req.value("cols", 80u));
        if (send_message(fd, json{{"ok", true}}, {theirs.get()})) console_peers_.push_back(std::move(mine));
    } else if (op == "exec") {
        if (status_ != MonitorStatus::Running) return reply_error("container is not running");
        auto er = exec_request_from_json(req);
        if (!er) return reply_error(er.error().message());
        if (!er->pty && msg->fds.size() != 3) return reply_error("exec without a pty needs three fds");
        int stdio[3] = {-1, -1, -1};
        for (size_t i = 0; i < 3 && i < msg->fds.size(); ++i) stdio[i] = msg->fds[i].get();
        ExecTarget t;
        t.init_pid = init_.pid;
        t.init_pidfd = init_.pidfd.get();
        t.user_ns = !spec_.privileged;
        // Where init is (systemd moves itself to init.scope); the payload root if that fails.
        t.join_cgroup = [this](pid_t pid) -> Result<void> {
            if (join_cgroups_of(init_.pid, pid, cgroup_->layout())) return {};
            return cgroup_->attach(payload_cg_, pid);
        };
        t.confine = [this]() -> Result<void> {
            if (!apparmor_profile_.empty()) LXM_TRY_VOID(apparmor_change_onexec(apparmor_profile_));
            std::vector<cap_value_t> drop(cap_drop_.begin(), cap_drop_.end());
            LXM_TRY_VOID(drop_bounding_set(drop));
            if (spec_.seccomp) LXM_TRY_VOID(apply_seccomp(seccomp_));
            return {};
        };
        auto p = spawn_exec(t, *er, stdio);
        if (!p) return reply_error(p.error().message());
        execs_[p->helper_pid] = Exec{p->helper_pid, p->pid, fd};
        std::vector<int> fds;
        if (p->pty_master) fds.push_back(p->pty_master.get());
        (void)send_message(fd, json{{"ok", true}, {"pid", p->pid}}, fds);
    } else if (op == "signal") {
        pid_t pid = req.value("pid", -1);
        int sig = req.value("signal", 0);
        for (const auto& [_, e] : execs_) {
            if (e.pid == pid && pid > 0) {
                if (::kill(pid, sig) != 0) return reply_error(std::string("kill: ") + std::strerror(errno));
                (void)send_message(fd, json{{"ok", true}});
                return;
            }
        }
        reply_error("no such command");
    } else {
        reply_error("unknown request '" + op + "'");
    }
}

void Monitor::pump_console() {
    if (!pty_.master) return;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(pty_.master.get(), buf, sizeof buf);
        if (n <= 0) break;
        std::string_view data(buf, static_cast<size_t>(n));
        (void)log_.append(data);
        for (auto it = console_peers_.begin(); it != console_peers_.end();) {
            ssize_t w = ::send(it->get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno != EAGAIN) it = console_peers_.erase(it);
            else ++it;
        }
    }
}

namespace {
// Quiet time after which the loop gives memory back. Requests come in bursts (an exec is a
// few messages within milliseconds, lxm list asks every monitor at once): between bursts an
// idle monitor holds only what its poll loop needs. Releasing costs about 0.1 ms, and the next
// burst faults its code back in (some 0.2 ms).
constexpr std::chrono::milliseconds kIdleRelease{100};
}  // namespace

int Monitor::run() {
    // Hold the slave open ourselves so the master never sees a hangup while init
    // has closed its console.
    UniqueFd slave_hold;
    auto open_slave = [&] {
        slave_hold.reset(pty_.slave_path.empty() ? -1 : ::open(pty_.slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    };
    open_slave();
    std::string held_slave = pty_.slave_path;
    while (!done_) {
        if (pty_.slave_path != held_slave) {
            open_slave();
            held_slave = pty_.slave_path;
        }
        std::vector<pollfd> pfds;
        pfds.push_back({sigfd_.get(), POLLIN, 0});
        pfds.push_back({listen_.get(), POLLIN, 0});
        pfds.push_back({pty_.master ? pty_.master.get() : -1, POLLIN, 0});
        size_t conn_base = pfds.size();
        for (const auto& [fd, _] : conns_) pfds.push_back({fd, POLLIN, 0});
        size_t peer_base = pfds.size();
        for (const auto& p : console_peers_) pfds.push_back({p.get(), POLLIN, 0});
        int timeout = -1;
        auto now = std::chrono::steady_clock::now();
        for (const auto& at : {kill_deadline_, release_at_}) {
            if (!at) continue;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*at - now).count();
            int ms = left < 0 ? 0 : static_cast<int>(std::min<int64_t>(left + 1, 1 << 30));
            timeout = timeout < 0 ? ms : std::min(timeout, ms);
        }
        int n = ::poll(pfds.data(), pfds.size(), timeout);
        if (n < 0 && errno != EINTR) {
            LXM_ERROR("poll: {}", std::strerror(errno));
            break;
        }
        now = std::chrono::steady_clock::now();
        if (kill_deadline_ && now >= *kill_deadline_) {
            LXM_INFO("container {}: stop timed out, killing", spec_.name);
            force_kill();
        }
        if (n <= 0) {
            if (release_at_ && now >= *release_at_) {
                release_at_.reset();
                (void)base::release_idle_memory();
            }
            continue;
        }
        release_at_ = now + kIdleRelease;
        if (pfds[2].revents & POLLIN) pump_console();
        // Console input from attached peers.
        std::vector<int> dead;
        for (size_t i = peer_base; i < pfds.size(); ++i) {
            if (!pfds[i].revents) continue;
            char buf[4096];
            ssize_t r = ::read(pfds[i].fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                dead.push_back(pfds[i].fd);
            } else if (pty_.master) {
                (void)base::write_all(pty_.master.get(), std::string_view(buf, static_cast<size_t>(r)));
            }
        }
        for (int d : dead)
            std::erase_if(console_peers_, [d](const UniqueFd& f) { return f.get() == d; });
        std::vector<int> ready;
        for (size_t i = conn_base; i < peer_base; ++i)
            if (pfds[i].revents) ready.push_back(pfds[i].fd);
        for (int fd : ready)
            if (conns_.count(fd)) handle_request(fd);
        if (pfds[1].revents & POLLIN) {
            int c = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
            if (c >= 0) conns_[c] = Conn{UniqueFd(c)};
        }
        if (pfds[0].revents & POLLIN) handle_signal();
    }
    // Init is gone and the payload is cleaned up: tell whoever waited, then leave.
    for (auto& [fd, c] : conns_)
        if (c.wants_stop_reply) (void)send_message(fd, json{{"ok", true}, {"exit", exit_code_}});
    conns_.clear();
    listen_.reset();
    ::unlink(spec_.monitor_socket().c_str());
    ::unlink((spec_.run_dir + "/monitor.pid").c_str());
    (void)base::write_file_atomic(spec_.run_dir + "/exit-code", std::to_string(exit_code_) + "\n");
    if (cgroup_) {
        (void)cgroup_->attach(spec_.cgroup_parent, ::getpid());
        (void)cgroup_->destroy(monitor_cg_);
    }
    return exit_code_ < 0 ? 1 : exit_code_;
}

// ---- main ------------------------------------------------------------------------------------

int monitor_main(const std::string& spec_path, int ready_fd, bool foreground, Monitor::NetworkHook network_hook) {
    auto report = [&](const json& j) {
        if (ready_fd < 0) return;
        (void)base::write_all(ready_fd, j.dump() + "\n");
        ::close(ready_fd);
        ready_fd = -1;
    };
    auto text = base::read_file(spec_path, 1 << 20);
    if (!text) {
        report(json{{"error", text.error().message()}});
        return 1;
    }
    Spec spec;
    try {
        spec = json::parse(*text).get<Spec>();
    } catch (const json::exception& e) {
        report(json{{"error", std::string("bad spec: ") + e.what()}});
        return 1;
    }
    if (!foreground) {
        // Detach: the launcher reaps our first half at once; the second half lives on.
        pid_t pid = ::fork();
        if (pid < 0) {
            report(json{{"error", std::string("fork: ") + std::strerror(errno)}});
            return 1;
        }
        if (pid > 0) ::_exit(0);
        ::setsid();
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        for (int i = 0; i < 3; ++i) ::dup2(null, i);
        if (null > 2) ::close(null);
    }
    (void)base::mkdir_p(spec.log_dir, 0700);
    base::init_logging("lxm-monitor", foreground ? std::string() : spec.log_dir + "/monitor.log");
    Monitor m(spec);
    m.set_network_hook(std::move(network_hook));
    if (auto r = m.start(); !r) {
        LXM_ERROR("container {}: start failed: {}", spec.name, r.error().message());
        report(json{{"error", r.error().message()}});
        return 1;
    }
    report(json{{"ok", true}, {"pid", m.init_pid()}, {"monitor_pid", ::getpid()}});
    // What starting needed (spec, seccomp compilation, mount plans) is freed: give it back,
    // and the start-up code with it (the loop does the same whenever it goes idle).
    (void)base::release_idle_memory();
    return m.run();
}

}  // namespace lxm::runtime
