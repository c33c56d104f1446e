// Talking to a container's lxm-monitor: launching one (it detaches and
// reports readiness on a pipe) and the request/reply calls of monitor.hpp.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/runtime/attach.hpp"

namespace lxm::runtime {

struct LaunchResult {
    pid_t init_pid = -1;
    pid_t monitor_pid = -1;
};

// Start lxm-monitor for the spec file and wait until init was executed (or the start failed,
// whose error is returned). Safe to call from a threaded program: only exec happens after fork.
base::Result<LaunchResult> launch_monitor(const std::string& monitor_binary, const std::string& spec_path);

struct ExecHandle {
    base::UniqueFd conn;  // the exit event arrives here
    pid_t pid = -1;
    base::UniqueFd pty_master;
};

class MonitorClient {
public:
    static base::Result<MonitorClient> connect(const std::string& socket_path);

    // One request, one reply; a reply {"error": text} becomes an Error.
    base::Result<nlohmann::json> request(const nlohmann::json& req, const std::vector<int>& fds = {});
    base::Result<nlohmann::json> state() { return request({{"op", "state"}}); }
    // Graceful stop with timeout seconds, then kill; or kill at once with force. Returns init's exit code.
    base::Result<int> stop(int timeout_s, bool force);
    base::Result<void> freeze();
    base::Result<void> thaw();
    base::Result<base::UniqueFd> console(unsigned rows = 24, unsigned cols = 80);
    // Start a command; stdio are three fds (ignored for a pty request). The handle owns its own connection.
    base::Result<ExecHandle> exec(const ExecRequest& req, const int stdio[3]);
    base::Result<void> signal(pid_t pid, int sig);

    int fd() const { return fd_.get(); }

private:
    base::UniqueFd fd_;
    std::string path_;
};

// Wait for the exit event of a command started with exec.
base::Result<int> wait_exec(ExecHandle& h);

}  // namespace lxm::runtime
