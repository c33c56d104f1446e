// Helpers for netd priv tests: run a body in a forked child inside a fresh
// network namespace, so links, addresses, nft tables and sysctls never touch
// the host. The body returns "" on success or a failure text; gtest asserts in
// the parent.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>

#include "lxm/base/error.hpp"

namespace lxm::test {

#define NETNS_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) return std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " #cond;   \
    } while (0)
#define NETNS_OK(expr)                                                                             \
    do {                                                                                           \
        auto netns_r = (expr);                                                                     \
        if (!netns_r)                                                                              \
            return std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " #expr ": " +      \
                   netns_r.error().message();                                                      \
    } while (0)

// Fork; the child unshares CLONE_NEWNET, brings lo up is left to the body, runs
// body and reports its text through a pipe. The parent waits (SIGKILL after timeout).
inline std::string run_in_private_netns(const std::function<std::string()>& body,
                                        std::chrono::seconds timeout = std::chrono::seconds(60)) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
    pid_t pid = ::fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
        ::close(p[0]);
        std::string msg;
        if (::unshare(CLONE_NEWNET) != 0) {
            msg = "unshare(CLONE_NEWNET) failed";
        } else {
            try {
                msg = body();
            } catch (const std::exception& e) {
                msg = std::string("exception: ") + e.what();
            }
        }
        if (msg.empty()) msg = "OK";
        (void)!::write(p[1], msg.data(), msg.size());
        ::_exit(0);
    }
    ::close(p[1]);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::kill(pid, SIGKILL);
            out += " [timed out]";
            break;
        }
        pollfd pfd{p[0], POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;
        ssize_t r = ::read(p[0], buf, sizeof buf);
        if (r <= 0) break;
        out.append(buf, static_cast<size_t>(r));
    }
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (out == "OK") return "";
    if (out.empty()) return "child died without a report (status " + std::to_string(status) + ")";
    return out;
}

}  // namespace lxm::test
