#include "lxm/runtime/attach.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "lxm/runtime/console.hpp"
#include "lxm/runtime/fd_msg.hpp"
#include "lxm/runtime/start.hpp"

namespace lxm::runtime {

using base::Result;
using base::UniqueFd;
using nlohmann::json;

void to_json(json& j, const ExecRequest& r) {
    j = json{{"args", r.args}, {"env", r.env}, {"cwd", r.cwd}, {"uid", r.uid}, {"gid", r.gid},
             {"pty", r.pty},   {"rows", r.rows}, {"cols", r.cols}};
}

Result<ExecRequest> exec_request_from_json(const json& j) {
    ExecRequest r;
    try {
        j.at("args").get_to(r.args);
        if (j.contains("env")) j.at("env").get_to(r.env);
        if (j.contains("cwd")) j.at("cwd").get_to(r.cwd);
        if (j.contains("uid")) j.at("uid").get_to(r.uid);
        if (j.contains("gid")) j.at("gid").get_to(r.gid);
        if (j.contains("pty")) j.at("pty").get_to(r.pty);
        if (j.contains("rows")) j.at("rows").get_to(r.rows);
        if (j.contains("cols")) j.at("cols").get_to(r.cols);
    } catch (const json::exception& e) {
        return base::make_error(std::errc::invalid_argument, std::string("bad exec request: ") + e.what());
    }
    if (r.args.empty()) return base::make_error(std::errc::invalid_argument, "exec needs a command");
    return r;
}

int exit_code_from_status(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 255;
}

namespace {

bool has_key(const std::vector<std::string>& env, const std::string& key) {
    for (const auto& e : env)
        if (e.compare(0, key.size() + 1, key + "=") == 0) return true;
    return false;
}

std::vector<std::string> exec_env(const ExecRequest& r) {
    std::vector<std::string> env = r.env;
    if (!has_key(env, "PATH")) env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if (!has_key(env, "LANG")) env.push_back("LANG=C.UTF-8");
    if (!has_key(env, "HOME")) env.push_back(r.uid == 0 ? "HOME=/root" : "HOME=/");
    if (r.uid == 0 && !has_key(env, "USER")) env.push_back("USER=root");
    if (r.pty && !has_key(env, "TERM")) env.push_back("TERM=xterm");
    env.push_back("container=lxm");
    return env;
}

std::string find_path_var(const std::vector<std::string>& env) {
    for (const auto& e : env)
        if (e.rfind("PATH=", 0) == 0) return e.substr(5);
    return "/usr/bin:/bin";
}

// The command: runs inside every namespace of the container.
[[noreturn]] void command_main(const ExecTarget& t, const ExecRequest& r, const int stdio[3], const std::string& slave,
                               int errpipe) {
    auto fail = [&](int err) {
        (void)!::write(errpipe, &err, sizeof err);
        ::_exit(err == ENOENT ? 127 : 126);
    };
    if (::setsid() < 0) fail(errno);
    if (!slave.empty()) {
        int s = ::open(slave.c_str(), O_RDWR);
        if (s < 0) fail(errno);
        if (::ioctl(s, TIOCSCTTY, 0) != 0) fail(errno);
        for (int i = 0; i < 3; ++i) ::dup2(s, i);
        if (s > 2) ::close(s);
    } else {
        int tmp[3];
        for (int i = 0; i < 3; ++i) tmp[i] = ::fcntl(stdio[i], F_DUPFD_CLOEXEC, 10);
        for (int i = 0; i < 3; ++i) ::dup2(tmp[i], i);
    }
    if (::setgroups(0, nullptr) != 0 && errno != EPERM) fail(errno);
    if (::setresgid(r.gid, r.gid, r.gid) != 0) fail(errno);
    if (::setresuid(r.uid, r.uid, r.uid) != 0) fail(errno);
    if (::chdir(r.cwd.c_str()) != 0 && ::chdir("/") != 0) fail(errno);
    std::vector<std::string> env = exec_env(r);
    std::vector<char*> argv, envp;
    for (const auto& a : r.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    // Resolve the command against the container's PATH now, before seccomp.
    std::string cmd = r.args[0];
    if (cmd.find('/') == std::string::npos) {
        std::string path = find_path_var(env), found;
        size_t pos = 0;
        while (pos <= path.size()) {
            size_t c = path.find(':', pos);
            if (c == std::string::npos) c = path.size();
            std::string cand = path.substr(pos, c - pos) + "/" + cmd;
            if (::access(cand.c_str(), X_OK) == 0) {
                found = cand;
                break;
            }
            pos = c + 1;
        }
        if (found.empty()) fail(ENOENT);
        cmd = found;
    }
    if (t.confine)
        if (auto c = t.confine(); !c) fail(c.error().code.value() ? c.error().code.value() : EPERM);
    ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(cmd.c_str(), argv.data(), envp.data());
    fail(errno);
    ::_exit(127);
}

// The helper: joins cgroup and namespaces, forks the command, waits for it.
[[noreturn]] void helper_main(const ExecTarget& t, const ExecRequest& r, const int stdio[3], int sock) {
    reset_signals_for_exec();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto fail = [&](const std::string& what, int err) {
        (void)send_message(sock, json{{"error", what + ": " + std::strerror(err)}});
        ::_exit(126);
    };
    if (t.join_cgroup)
        if (auto c = t.join_cgroup(::getpid()); !c) fail("join cgroup", c.error().code.value());
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
    if (t.user_ns) flags |= CLONE_NEWUSER;
    if (::setns(t.init_pidfd, flags) != 0) {
        // A container without its own network namespace shares the host's: enter the rest.
        if (errno != EINVAL || ::setns(t.init_pidfd, flags & ~CLONE_NEWNET) != 0) fail("enter namespaces", errno);
    }
    std::string slave;
    UniqueFd master;
    if (r.pty) {
        int m = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0) fail("open /dev/ptmx in the container", errno);
        master.reset(m);
        if (::unlockpt(m) != 0) fail("unlockpt", errno);
        char name[128];
        if (::ptsname_r(m, name, sizeof name) != 0) fail("ptsname", errno);
        slave = name;
        (void)set_winsize(m, r.rows, r.cols);
    }
    int ep[2];
    if (::pipe2(ep, O_CLOEXEC) != 0) fail("pipe", errno);
    pid_t pid = ::fork();
    if (pid < 0) fail("fork", errno);
    if (pid == 0) {
        ::close(ep[0]);
        ::close(sock);
        command_main(t, r, stdio, slave, ep[1]);
    }
    ::close(ep[1]);
    std::vector<int> fds;
    if (master) fds.push_back(master.get());
    (void)send_message(sock, json{{"pid", pid}}, fds);
    master.reset();
    ::close(sock);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    int err = 0;
    if (::read(ep[0], &err, sizeof err) == static_cast<ssize_t>(sizeof err)) ::_exit(err == ENOENT ? 127 : 126);
    ::_exit(exit_code_from_status(st));
}

}  // namespace

Result<ExecProcess> spawn_exec(const ExecTarget& t, const ExecRequest& r, const int stdio[3]) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return base::errno_error("socketpair");
    UniqueFd mine(sv[0]), theirs(sv[1]);
    pid_t helper = ::fork();
    if (helper < 0) return base::errno_error("fork exec helper");
    if (helper == 0) {
        mine.reset();
        helper_main(t, r, stdio, theirs.get());
    }
    theirs.reset();
    auto m = recv_message(mine.get());
    if (!m || m->body.contains("error")) {
        int st;
        while (::waitpid(helper, &st, 0) < 0 && errno == EINTR) {
        }
        if (!m) return base::make_error(std::errc::io_error, "exec helper failed before starting the command");
        return base::make_error(std::errc::operation_not_permitted, m->body["error"].get<std::string>());
    }
    ExecProcess p;
    p.helper_pid = helper;
    p.pid = m->body.value("pid", -1);
    if (!m->fds.empty()) p.pty_master = std::move(m->fds.front());
    return p;
}

}  // namespace lxm::runtime
