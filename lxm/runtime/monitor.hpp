// lxm-monitor's core: one single-threaded process per running container,
// parent of its init, holding the console pty (and its log), the payload
// cgroup and the private mount namespace with the container's root. It
// answers on a unix socket (fd_msg.hpp protocol) and outlives lxmd.
//
// Requests ({"op": ...}):
//   state                      -> {status, pid, monitor_pid, started_at, cpu_ns, memory_bytes, pids, apparmor}
//   stop {timeout, force}      -> {ok, exit} once init is gone (graceful: the spec's stop signal,
//                                 then after timeout seconds a kill of the whole cgroup)
//   freeze / thaw              -> {ok}
//   console {rows, cols}       -> {ok} + one fd: a stream socket proxied to the console pty
//   exec {ExecRequest} + 3 fds -> {ok, pid} (+ pty master fd), later {event:"exit", code}
//   signal {pid, signal}       -> {ok} (only to commands this monitor started)
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/runtime/attach.hpp"
#include "lxm/runtime/cgroup.hpp"
#include "lxm/runtime/console.hpp"
#include "lxm/runtime/seccomp.hpp"
#include "lxm/runtime/spec.hpp"
#include "lxm/runtime/start.hpp"

namespace lxm::runtime {

enum class MonitorStatus { Running, Frozen, Stopping, Stopped };
const char* to_string(MonitorStatus s);

class Monitor {
public:
    explicit Monitor(Spec spec);
    ~Monitor();
    Monitor(const Monitor&) = delete;
    Monitor& operator=(const Monitor&) = delete;

    // Moves spec.net_links ("host=inside") into init's network namespace; set by the
    // program that links a netlink implementation (lxm-monitor links netd).
    using NetworkHook = std::function<base::Result<void>(pid_t, const std::string& host, const std::string& inside)>;
    void set_network_hook(NetworkHook hook) { network_hook_ = std::move(hook); }

    // Prepare everything and start init. On failure nothing is left behind.
    base::Result<void> start();
    // Serve until init is gone and everything is cleaned up; returns init's exit code.
    int run();

    pid_t init_pid() const { return init_.pid; }
    const std::string& payload_cgroup() const { return payload_cg_; }

private:
    struct Conn {
        base::UniqueFd fd;
        bool wants_stop_reply = false;
    };
    struct Exec {
        pid_t helper_pid;
        pid_t pid;
        int conn;  // fd of the requesting connection (-1 when it went away)
    };

    base::Result<void> prepare();
    base::Result<void> launch();
    void teardown_payload();
    void handle_request(int fd);
    void handle_signal();
    void on_init_exit(int status);
    void begin_stop(std::chrono::seconds timeout, bool force);
    void force_kill();
    void pump_console();
    nlohmann::json state_json();
    std::string exec_reply_error(const base::Error& e);
    void close_conn(int fd);

    Spec spec_;
    NetworkHook network_hook_;
    std::unique_ptr<CgroupDriver> cgroup_;
    std::string payload_cg_, monitor_cg_;
    SeccompProgram seccomp_;
    std::vector<int> cap_drop_;
    std::string apparmor_profile_;  // empty when AppArmor is unavailable
    std::string apparmor_reason_;
    base::UniqueFd userns_;
    std::string rootfs_mount_;
    Pty pty_;
    ConsoleLog log_;
    StartedInit init_;
    int64_t started_at_ = 0;
    MonitorStatus status_ = MonitorStatus::Stopped;
    base::UniqueFd listen_, sigfd_;
    std::map<int, Conn> conns_;
    std::vector<base::UniqueFd> console_peers_;
    std::map<pid_t, Exec> execs_;
    std::optional<std::chrono::steady_clock::time_point> kill_deadline_;
    // Set by any activity: when the loop has been quiet until then, it gives memory back
    // (base::release_idle_memory: what the last requests faulted in).
    std::optional<std::chrono::steady_clock::time_point> release_at_;
    int exit_code_ = -1;
    bool done_ = false;
    bool restart_ = false;
};

// lxm-monitor's main: start, report readiness on ready_fd (one JSON line), serve.
int monitor_main(const std::string& spec_path, int ready_fd, bool foreground, Monitor::NetworkHook network_hook);

}  // namespace lxm::runtime
