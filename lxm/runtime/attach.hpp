// Running a command inside a running container (exec): a helper forked from
// the monitor joins init's cgroup, enters all of init's namespaces at once
// through its pidfd, and forks the command, which takes the same confinement
// as init (capabilities, seccomp, AppArmor) before execve. The helper waits
// for the command and exits with its status (128+signal for a signal death,
// 126 not executable, 127 not found), so the monitor reaps one process.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::runtime {

struct ExecRequest {
    std::vector<std::string> args;
    std::vector<std::string> env;  // KEY=VALUE; PATH, HOME, LANG, TERM defaults are added when missing
    std::string cwd = "/root";
    uid_t uid = 0;
    gid_t gid = 0;
    bool pty = false;
    unsigned rows = 24, cols = 80;
};

void to_json(nlohmann::json& j, const ExecRequest& r);
base::Result<ExecRequest> exec_request_from_json(const nlohmann::json& j);

struct ExecTarget {
    pid_t init_pid = -1;
    int init_pidfd = -1;
    bool user_ns = true;  // false for privileged containers (no user namespace to enter)
    std::function<base::Result<void>(pid_t)> join_cgroup;  // helper side, before setns
    std::function<base::Result<void>()> confine;           // command side, before execve
};

struct ExecProcess {
    pid_t helper_pid = -1;   // child of the monitor; its exit status is the command's
    pid_t pid = -1;          // host pid of the command (for signals)
    base::UniqueFd pty_master;
};

// stdio: three fds (ignored with a pty).
base::Result<ExecProcess> spawn_exec(const ExecTarget& target, const ExecRequest& req, const int stdio[3]);

// Exit code convention from a wait status.
int exit_code_from_status(int status);

}  // namespace lxm::runtime
