#include "lxm/runtime/monitor_client.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "lxm/base/file.hpp"
#include "lxm/runtime/fd_msg.hpp"

namespace lxm::runtime {

using base::Result;
using base::UniqueFd;
using nlohmann::json;

Result<LaunchResult> launch_monitor(const std::string& monitor_binary, const std::string& spec_path) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return base::errno_error("pipe");
    UniqueFd rd(p[0]), wr(p[1]);
    std::vector<std::string> args = {monitor_binary, "--spec", spec_path, "--ready-fd", "3"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return base::errno_error("fork");
    if (pid == 0) {
        // Only async-signal-safe calls from here to exec.
        if (::dup2(wr.get(), 3) < 0) ::_exit(127);
        ::syscall(SYS_close_range, 4, ~0U, 0);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    wr.reset();
    // The first half of the monitor exits at once after detaching.
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    std::string out;
    char buf[4096];
    for (;;) {
        auto n = base::read_some(rd.get(), buf, sizeof buf);
        if (!n || *n == 0) break;
        out.append(buf, *n);
        if (out.size() > 65536) break;
    }
    if (out.empty()) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
            return base::make_error(std::errc::no_such_file_or_directory, "cannot run " + monitor_binary);
        return base::make_error(std::errc::io_error, "lxm-monitor exited without reporting (status " +
                                                         std::to_string(st) + "); see its log");
    }
    json j = json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return base::make_error(std::errc::bad_message, "bad readiness report: " + out);
    if (j.contains("error")) return base::make_error(std::errc::io_error, j["error"].get<std::string>());
    return LaunchResult{j.value("pid", -1), j.value("monitor_pid", -1)};
}

Result<MonitorClient> MonitorClient::connect(const std::string& path) {
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return base::make_error(std::errc::filename_too_long, path);
    std::strcpy(addr.sun_path, path.c_str());
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return base::errno_error("socket");
    MonitorClient c;
    c.fd_.reset(fd);
    c.path_ = path;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return base::errno_error("connect to monitor " + path);
    return c;
}

namespace {
Result<FdMessage> roundtrip(int fd, const json& req, const std::vector<int>& fds) {
    LXM_TRY_VOID(send_message(fd, req, fds));
    LXM_TRY(FdMessage m, recv_message(fd));
    if (m.body.contains("error"))
        return base::make_error(std::errc::io_error, m.body["error"].is_string() ? m.body["error"].get<std::string>()
                                                                                 : m.body["error"].dump());
    return m;
}
}  // namespace

Result<json> MonitorClient::request(const json& req, const std::vector<int>& fds) {
    LXM_TRY(FdMessage m, roundtrip(fd_.get(), req, fds));
    return m.body;
}

Result<int> MonitorClient::stop(int timeout_s, bool force) {
    LXM_TRY(json r, request({{"op", "stop"}, {"timeout", timeout_s}, {"force", force}}));
    return r.value("exit", -1);
}

Result<void> MonitorClient::freeze() {
    LXM_TRY_VOID(request({{"op", "freeze"}}));
    return {};
}

Result<void> MonitorClient::thaw() {
    LXM_TRY_VOID(request({{"op", "thaw"}}));
    return {};
}

Result<UniqueFd> MonitorClient::console(unsigned rows, unsigned cols) {
    LXM_TRY(FdMessage m, roundtrip(fd_.get(), {{"op", "console"}, {"rows", rows}, {"cols", cols}}, {}));
    if (m.fds.empty()) return base::make_error(std::errc::protocol_error, "monitor sent no console fd");
    return std::move(m.fds.front());
}

Result<ExecHandle> MonitorClient::exec(const ExecRequest& req, const int stdio[3]) {
    // Each exec gets its own connection: the exit event is delivered on it.
    LXM_TRY(MonitorClient own, connect(path_));
    json j = req;
    j["op"] = "exec";
    std::vector<int> fds;
    if (!req.pty) fds = {stdio[0], stdio[1], stdio[2]};
    LXM_TRY(FdMessage m, roundtrip(own.fd_.get(), j, fds));
    ExecHandle h;
    h.pid = m.body.value("pid", -1);
    if (!m.fds.empty()) h.pty_master = std::move(m.fds.front());
    h.conn = std::move(own.fd_);
    return h;
}

Result<void> MonitorClient::signal(pid_t pid, int sig) {
    LXM_TRY_VOID(request({{"op", "signal"}, {"pid", pid}, {"signal", sig}}));
    return {};
}

Result<int> wait_exec(ExecHandle& h) {
    for (;;) {
        LXM_TRY(FdMessage m, recv_message(h.conn.get()));
        if (m.body.value("event", "") == "exit") return m.body.value("code", -1);
    }
}

}  // namespace lxm::runtime
