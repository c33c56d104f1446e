// The real lxm CLI against a real lxmd on a temp LXM_DIR (--default-network none), for tests
// that drive lxm as a user would: lxmd can be stopped (any signal) and started again, and
// lxm() runs the binary with its stdout, stderr and exit code captured.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_env.hpp"

extern char** environ;

namespace lxm::test {

struct CliOut {
    int rc = -1;
    std::string out, err;
};

inline std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

class CliDaemon : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        if (::access(bin("lxmd").c_str(), X_OK) != 0) GTEST_SKIP() << "no lxmd binary at " << bin("lxmd");
        ::setenv("LXM_DIR", dir_.path().c_str(), 1);
        start_lxmd();
    }
    void TearDown() override {
        if (lxmd_ > 0) stop_lxmd(SIGTERM);
        ::unsetenv("LXM_DIR");
    }

    // Start lxmd and wait for its socket (a fatal failure with its log otherwise).
    void start_lxmd() {
        ::unlink((dir_ / "unix.socket").c_str());
        lxmd_ = spawn(bin("lxmd"), {"--default-network", "none"}, dir_ / "lxmd.log");
        for (int i = 0; i < 200 && ::access((dir_ / "unix.socket").c_str(), F_OK) != 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ASSERT_EQ(::access((dir_ / "unix.socket").c_str(), F_OK), 0) << "lxmd did not start: " << slurp(dir_ / "lxmd.log");
    }
    // Signal lxmd (by its pid) and reap it.
    void stop_lxmd(int sig) {
        if (lxmd_ <= 0) return;
        ::kill(lxmd_, sig);
        int st = 0;
        while (::waitpid(lxmd_, &st, 0) < 0 && errno == EINTR) {
        }
        lxmd_ = -1;
    }

    // Run lxm with args (stdin: input); output captured.
    CliOut lxm(const std::vector<std::string>& args, const std::string& input = "") {
        std::ofstream(dir_ / "in") << input;
        pid_t pid = spawn(bin("lxm"), args, dir_ / "out", dir_ / "err", dir_ / "in");
        int st = 0;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), slurp(dir_ / "out"), slurp(dir_ / "err")};
    }

    std::string log() const { return slurp(dir_ / "lxmd.log"); }
    // A per-process instance name (parallel runs never share a cgroup).
    static std::string name(const std::string& base) { return "t" + std::to_string(::getpid() % 100000) + "-" + base; }

    TempDir dir_{"clid"};
    pid_t lxmd_ = -1;

private:
    pid_t spawn(const std::string& path, const std::vector<std::string>& args, const std::string& out,
                const std::string& err = "", const std::string& in = "/dev/null") {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | (err.empty() ? O_APPEND : O_TRUNC),
                                         0600);
        posix_spawn_file_actions_addopen(&fa, 2, (err.empty() ? out : err).c_str(),
                                         O_WRONLY | O_CREAT | (err.empty() ? O_APPEND : O_TRUNC), 0600);
        std::vector<std::string> argv = {path};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> cargs;
        for (auto& a : argv) cargs.push_back(a.data());
        cargs.push_back(nullptr);
        pid_t pid = -1;
        EXPECT_EQ(::posix_spawn(&pid, path.c_str(), &fa, nullptr, cargs.data(), environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        return pid;
    }
};

}  // namespace lxm::test
