// The real lxm binary against the real lxmd on a temp state dir (LXM_DIR): launch the busybox
// image, list it RUNNING with a pid, exec with stdin and exit codes, stop/start, delete.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/test_env.hpp"

extern char** environ;

namespace lxm {
namespace {

using namespace std::chrono_literals;

struct Out {
    int rc = -1;
    std::string out, err;
};

class CliLxmd : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        if (::access(test::bin("lxmd").c_str(), X_OK) != 0) GTEST_SKIP() << "no lxmd binary at " << test::bin("lxmd");
        ::setenv("LXM_DIR", dir_.path().c_str(), 1);
        lxmd_ = spawn(test::bin("lxmd"), {"--default-network", "none"}, dir_ / "lxmd.log");
        for (int i = 0; i < 200 && ::access((dir_ / "unix.socket").c_str(), F_OK) != 0; ++i)
            std::this_thread::sleep_for(50ms);
        ASSERT_EQ(::access((dir_ / "unix.socket").c_str(), F_OK), 0) << "lxmd did not start: " << slurp(dir_ / "lxmd.log");
    }
    void TearDown() override {
        if (lxmd_ > 0) {
            // Whatever a failed test left behind goes first, then the daemon (by its pid).
            lxm({"delete", "--force", "c1"});
            ::kill(lxmd_, SIGTERM);
            int st = 0;
            ::waitpid(lxmd_, &st, 0);
        }
        ::unsetenv("LXM_DIR");
    }

    static std::string slurp(const std::string& path) {
        std::ifstream f(path);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }

    pid_t spawn(const std::string& bin, const std::vector<std::string>& args, const std::string& out,
                const std::string& err = "", const std::string& in = "/dev/null") {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, (err.empty() ? out : err).c_str(),
                                         O_WRONLY | O_CREAT | (err.empty() ? O_APPEND : O_TRUNC), 0600);
        std::vector<std::string> argv = {bin};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> cargs;
        for (auto& a : argv) cargs.push_back(a.data());
        cargs.push_back(nullptr);
        pid_t pid = -1;
        EXPECT_EQ(::posix_spawn(&pid, bin.c_str(), &fa, nullptr, cargs.data(), environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        return pid;
    }

    Out lxm(const std::vector<std::string>& args, const std::string& input = "") {
        std::ofstream(dir_ / "in") << input;
        pid_t pid = spawn(test::bin("lxm"), args, dir_ / "out", dir_ / "err", dir_ / "in");
        int st = 0;
        ::waitpid(pid, &st, 0);
        return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), slurp(dir_ / "out"), slurp(dir_ / "err")};
    }

    test::TempDir dir_{"clilxmd"};
    pid_t lxmd_ = -1;
};

TEST_F(CliLxmd, LaunchListExecStopStartDelete) {
    auto launch = lxm({"launch", "busybox", "c1"});
    ASSERT_EQ(launch.rc, 0) << launch.err << slurp(dir_ / "lxmd.log");
    EXPECT_EQ(launch.out, "Creating c1\nStarting c1\n");

    auto list = lxm({"list", "-f", "csv", "-c", "nsp"});
    ASSERT_EQ(list.rc, 0) << list.err;
    ASSERT_TRUE(list.out.starts_with("c1,RUNNING,")) << list.out;
    int pid = std::stoi(list.out.substr(11));
    EXPECT_GT(pid, 1);
    EXPECT_EQ(::kill(pid, 0), 0) << "the listed pid is not a live process";
    auto table = lxm({"list"});
    EXPECT_NE(table.out.find("| c1   | RUNNING |"), std::string::npos) << table.out;

    auto three = lxm({"exec", "c1", "--", "sh", "-c", "exit 3"});
    EXPECT_EQ(three.rc, 3) << three.err;
    auto io = lxm({"exec", "c1", "--", "sh", "-c", "tr a-z A-Z; echo e >&2"}, "hello\n");
    EXPECT_EQ(io.rc, 0) << io.err;
    EXPECT_EQ(io.out, "HELLO\n");
    EXPECT_EQ(io.err, "e\n");
    EXPECT_EQ(lxm({"exec", "c1", "--", "/no/such"}).rc, 127);

    auto info = lxm({"info", "c1"});
    EXPECT_NE(info.out.find("Status: RUNNING\n"), std::string::npos) << info.out;

    ASSERT_EQ(lxm({"stop", "c1", "--force"}).rc, 0);
    EXPECT_EQ(lxm({"list", "-f", "csv", "-c", "ns"}).out, "c1,STOPPED\n");
    auto exec_stopped = lxm({"exec", "c1", "--", "true"});
    EXPECT_EQ(exec_stopped.rc, 1);
    EXPECT_TRUE(exec_stopped.err.starts_with("Error: ")) << exec_stopped.err;
    ASSERT_EQ(lxm({"start", "c1"}).rc, 0);
    EXPECT_EQ(lxm({"list", "-f", "csv", "-c", "ns"}).out, "c1,RUNNING\n");

    auto refused = lxm({"delete", "c1"});
    EXPECT_EQ(refused.rc, 1);
    ASSERT_EQ(lxm({"delete", "--force", "c1"}).rc, 0);
    EXPECT_EQ(lxm({"list", "-f", "csv"}).out, "");
    auto gone = lxm({"info", "c1"});
    EXPECT_EQ(gone.rc, 1);
    EXPECT_TRUE(gone.err.starts_with("Error: ")) << gone.err;
}

}  // namespace
}  // namespace lxm
