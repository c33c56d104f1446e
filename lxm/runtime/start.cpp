#include "lxm/runtime/start.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "lxm/runtime/idmap.hpp"
#include "lxm/runtime/sync.hpp"

namespace lxm::runtime {

using base::Result;
using base::UniqueFd;

Result<pid_t> clone3_fork(uint64_t flags, int* pidfd_out) {
    struct clone_args args {};
    args.flags = flags | (pidfd_out ? CLONE_PIDFD : 0);
    args.pidfd = reinterpret_cast<uint64_t>(pidfd_out);
    args.exit_signal = SIGCHLD;
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) return base::errno_error("clone3");
    return static_cast<pid_t>(pid);
}

void reset_signals_for_exec() {
    for (int s = 1; s < NSIG; ++s)
        if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

std::vector<std::string> init_environment(const Spec& spec) {
    std::vector<std::string> env = {
        "container=lxm",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=linux",
    };
    for (const auto& e : spec.env) env.push_back(e);
    return env;
}

namespace {

// ---- child half ---------------------------------------------------------------
// Runs in the new namespaces. Never returns: execs init or exits after sending
// its failure to the parent.

[[noreturn]] void child_fail(int sock, StartStep step, const base::Error& e) {
    (void)sync_send_error(sock, step, e.code.value(), e.context);
    ::_exit(1);
}

#define CHILD_TRY(step, expr)                                   \
    do {                                                        \
        auto child_r = (expr);                                  \
        if (!child_r) child_fail(sock, step, child_r.error());  \
    } while (0)

Result<void> become_root(const Spec& spec) {
    if (spec.privileged) return {};
    if (::setresgid(0, 0, 0) != 0) return base::errno_error("setresgid 0");
    if (::setresuid(0, 0, 0) != 0) return base::errno_error("setresuid 0");
    if (::setgroups(0, nullptr) != 0) return base::errno_error("setgroups");
    return {};
}

Result<void> attach_console() {
    int fd = ::open("/dev/console", O_RDWR | O_CLOEXEC);
    if (fd < 0) return base::errno_error("open /dev/console");
    if (::setsid() < 0) return base::errno_error("setsid");
    if (::ioctl(fd, TIOCSCTTY, 0) != 0) return base::errno_error("make /dev/console the controlling tty");
    for (int i = 0; i < 3; ++i)
        if (::dup2(fd, i) < 0) return base::errno_error("dup2 console");
    if (fd > 2) ::close(fd);
    return {};
}

Result<void> attach_null_stdio() {
    int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return base::errno_error("open /dev/null");
    if (::setsid() < 0) return base::errno_error("setsid");
    for (int i = 0; i < 3; ++i)
        if (::dup2(fd, i) < 0) return base::errno_error("dup2 /dev/null");
    if (fd > 2) ::close(fd);
    return {};
}

[[noreturn]] void child_main(int sock, const Spec& spec, const StartContext& ctx) {
    // New user, pid, mount, uts, ipc (and net) namespaces; ids unmapped until the parent writes them.
    reset_signals_for_exec();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    CHILD_TRY(StartStep::ChildStarted, sync_send(sock, StartStep::ChildStarted));
    if (auto r = sync_expect(sock, StartStep::MapsWritten); !r) ::_exit(1);  // parent gave up

    // Mapped, in the payload cgroup: root of our user namespace from here on.
    CHILD_TRY(StartStep::MapsWritten, become_root(spec));
    if (::unshare(CLONE_NEWCGROUP) != 0)
        child_fail(sock, StartStep::MapsWritten, {std::error_code(errno, std::system_category()), "unshare cgroup namespace"});

    // Mount namespace: nothing we do may propagate back to the host.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
        child_fail(sock, StartStep::RootfsReady, {std::error_code(errno, std::system_category()), "make / rslave"});
    ContainerFsOptions fs;
    fs.root = ctx.rootfs_mount;
    fs.console_slave = ctx.console_slave;
    fs.own_netns = !spec.share_host_net;
    fs.cgroup = ctx.cgroup_mounts;
    CHILD_TRY(StartStep::RootfsReady, setup_container_fs(fs));
    const std::string& hn = spec.hostname.empty() ? spec.name : spec.hostname;
    if (::sethostname(hn.c_str(), hn.size()) != 0)
        child_fail(sock, StartStep::RootfsReady, {std::error_code(errno, std::system_category()), "sethostname"});
    CHILD_TRY(StartStep::RootfsReady, enter_root(ctx.rootfs_mount));
    CHILD_TRY(StartStep::RootfsReady, ctx.console_slave.empty() ? attach_null_stdio() : attach_console());

    // Prepare argv/envp before confinement (no allocation needed after seccomp).
    std::vector<std::string> env = init_environment(spec);
    std::vector<char*> argv, envp;
    for (const auto& a : spec.init) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    if (::access(spec.init[0].c_str(), X_OK) != 0)
        child_fail(sock, StartStep::Exec,
                   {std::error_code(errno, std::system_category()), "init " + spec.init[0] + " is not executable"});

    if (ctx.confine) CHILD_TRY(StartStep::Confined, ctx.confine());
    // Every fd but stdio closes on exec, the sync socket included: that is the success signal.
    ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(argv[0], argv.data(), envp.data());
    child_fail(sock, StartStep::Exec, {std::error_code(errno, std::system_category()), "execve " + spec.init[0]});
}

}  // namespace

// ---- parent half ------------------------------------------------------------------
// Runs in the monitor, in the host's namespaces (its own private mount namespace).

Result<StartedInit> start_init(const Spec& spec, const StartContext& ctx) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return base::errno_error("socketpair");
    UniqueFd parent_sock(sv[0]), child_sock(sv[1]);

    uint64_t flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
    if (!spec.privileged) flags |= CLONE_NEWUSER;
    if (!spec.share_host_net) flags |= CLONE_NEWNET;
    int pidfd = -1;
    LXM_TRY(pid_t pid, clone3_fork(flags, &pidfd));
    if (pid == 0) {
        parent_sock.reset();
        child_main(child_sock.get(), spec, ctx);
    }
    child_sock.reset();
    StartedInit init{pid, UniqueFd(pidfd)};
    auto abort = [&](base::Error e) -> Result<StartedInit> {
        ::syscall(SYS_pidfd_send_signal, init.pidfd.get(), SIGKILL, nullptr, 0);
        int st;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        return std::unexpected(std::move(e));
    };

    if (auto r = sync_expect(parent_sock.get(), StartStep::ChildStarted); !r) return abort(r.error());
    if (!spec.privileged)
        if (auto r = write_id_maps(pid, spec.idmap); !r) return abort(base::wrap(r.error(), "id maps"));
    if (ctx.place_in_cgroup)
        if (auto r = ctx.place_in_cgroup(pid); !r) return abort(base::wrap(r.error(), "cgroup"));
    if (ctx.setup_network)
        if (auto r = ctx.setup_network(pid); !r) return abort(base::wrap(r.error(), "network"));
    if (auto r = sync_send(parent_sock.get(), StartStep::MapsWritten); !r) return abort(r.error());

    // Either the child reports an error, or the socket closes because init was executed.
    auto m = sync_recv(parent_sock.get());
    if (!m && m.error().code == std::make_error_code(std::errc::broken_pipe)) return init;
    if (!m) return abort(m.error());
    if (m->step == StartStep::Error) {
        m->text[sizeof m->text - 1] = 0;
        return abort(base::Error{std::error_code(m->err, std::system_category()),
                                 std::string(step_name(m->failed_step)) + ": " + m->text});
    }
    return abort(base::Error{std::make_error_code(std::errc::protocol_error), "unexpected start message"});
}

}  // namespace lxm::runtime
