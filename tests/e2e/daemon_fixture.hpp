// A real build/bin/lxmd on a temp state dir (LXM_DIR), for e2e tests.
// Started by fork/exec, waited for on its socket, stopped by pid (SIGTERM, or
// SIGKILL on request). At the end every container it made is force-stopped
// through its monitor socket, lxmd is stopped, and the state dir removed.
// Instance names carry a per-process tag so parallel runs never share a cgroup.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/file.hpp"
#include "lxm/client/client.hpp"
#include "lxm/runtime/monitor_client.hpp"
#include "tests/support/test_env.hpp"

namespace lxm::test {

using json = nlohmann::json;

class Lxmd {
public:
    Lxmd() : dir_("lxmd"), state_(dir_ / "state") {}
    ~Lxmd() {
        kill_containers();
        stop(SIGTERM);
    }

    const std::string& state() const { return state_; }
    std::string socket() const { return state_ + "/unix.socket"; }
    std::string log() const {
        auto t = base::read_file(dir_ / "lxmd.log", 1 << 20);
        return t ? *t : std::string();
    }
    pid_t pid() const { return pid_; }

    // Start lxmd with extra args; wait until its socket answers (false on timeout, with the log in *why).
    bool start(const std::vector<std::string>& extra = {}, std::string* why = nullptr) {
        std::vector<std::string> args = {bin("lxmd"), "--state-dir", state_};
        args.insert(args.end(), extra.begin(), extra.end());
        // No host bridge unless the test asks for one (--default-network NAME).
        if (std::find_if(extra.begin(), extra.end(), [](const std::string& a) {
                return a.starts_with("--default-network");
            }) == extra.end())
            args.insert(args.end(), {"--default-network", "none"});
        pid_ = spawn(args);
        for (int i = 0; i < 300; ++i) {
            if (connectable()) return true;
            int st;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (why) *why = log();
        return false;
    }

    // Run lxmd to completion (e.g. --recover); returns its exit status.
    int run(const std::vector<std::string>& extra) {
        std::vector<std::string> args = {bin("lxmd"), "--state-dir", state_};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_t p = spawn(args);
        int st = 0;
        while (::waitpid(p, &st, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }

    void stop(int sig) {
        if (pid_ <= 0) return;
        ::kill(pid_, sig);
        int st;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }

    base::Result<client::Client> client() const { return client::Client::connect_unix(socket()); }

    // Force-stop every container this state dir has a monitor for.
    void kill_containers() {
        std::string dir = state_ + "/containers";
        DIR* d = ::opendir(dir.c_str());
        if (!d) return;
        std::vector<std::string> socks;
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") socks.push_back(dir + "/" + n + "/monitor.sock");
        }
        ::closedir(d);
        for (const auto& s : socks) {
            if (!base::path_exists(s)) continue;
            auto c = runtime::MonitorClient::connect(s);
            if (c) (void)c->stop(0, true);
        }
    }

    // A unique instance name for this process.
    static std::string name(const std::string& base) {
        return "t" + std::to_string(::getpid() % 100000) + "-" + base;
    }

private:
    pid_t spawn(const std::vector<std::string>& args) {
        std::string logp = dir_ / "lxmd.log";
        pid_t p = ::fork();
        if (p == 0) {
            int fd = ::open(logp.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            ::dup2(null, 0);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        return p;
    }

    bool connectable() const {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, socket().c_str(), sizeof a.sun_path - 1);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
    }

    TempDir dir_;
    std::string state_;
    pid_t pid_ = -1;
};

// Create (and optionally start) an instance from the busybox image; returns "" or the error text.
inline std::string launch(client::Client& c, const std::string& name, bool start, json config = json::object()) {
    auto r = c.post("/1.0/instances", json{{"name", name},
                                           {"source", {{"type", "image"}, {"alias", "busybox"}}},
                                           {"config", config}});
    if (!r) return apitypes::user_message(r.error());
    auto op = c.wait_success(r->operation);
    if (!op) return apitypes::user_message(op.error());
    if (!start) return {};
    r = c.put("/1.0/instances/" + name + "/state", json{{"action", "start"}, {"timeout", 30}});
    if (!r) return apitypes::user_message(r.error());
    op = c.wait_success(r->operation);
    if (!op) return apitypes::user_message(op.error());
    return {};
}

inline std::string change_state(client::Client& c, const std::string& name, const std::string& action,
                                bool force = false) {
    auto r = c.put("/1.0/instances/" + name + "/state", json{{"action", action}, {"timeout", 30}, {"force", force}});
    if (!r) return apitypes::user_message(r.error());
    auto op = c.wait_success(r->operation);
    if (!op) return apitypes::user_message(op.error());
    return {};
}

// exec without websockets: the exit code comes back in the operation's metadata.
inline int exec_code(client::Client& c, const std::string& name, const std::vector<std::string>& cmd) {
    auto r = c.post("/1.0/instances/" + name + "/exec",
                    json{{"command", cmd}, {"wait-for-websocket", false}, {"interactive", false}});
    if (!r) return -1000;
    auto op = c.wait_operation(r->operation, 60);
    if (!op) return -1001;
    if (!op->metadata.is_object() || !op->metadata.contains("return")) return -1002;
    return op->metadata["return"].get<int>();
}

}  // namespace lxm::test
