#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::base;
using namespace std::chrono_literals;

namespace {
SpawnOptions opts(std::vector<std::string> argv) {
    SpawnOptions o;
    o.argv = std::move(argv);
    o.timeout = 20s;
    return o;
}
}  // namespace

TEST(Spawn, CapturesStdoutStderrAndExitCode) {
    auto r = spawn_capture(opts({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->out, "out\n");
    EXPECT_EQ(r->err, "err\n");
    EXPECT_EQ(r->exit_code, 3);
    EXPECT_EQ(r->term_signal, 0);
    EXPECT_FALSE(r->success());
    EXPECT_EQ(r->status_text(), "exit status 3");
}

TEST(Spawn, FeedsStdinAndFindsProgramInPath) {
    auto o = opts({"cat"});
    // Larger than a pipe buffer: exercises interleaved writing and reading.
    o.stdin_data.assign(1 << 20, 'x');
    o.stdin_data += "end";
    o.output_limit = 4 << 20;
    auto r = spawn_capture(o);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->success());
    EXPECT_EQ(r->out.size(), o.stdin_data.size());
    EXPECT_TRUE(r->out == o.stdin_data);  // not EXPECT_EQ: a failure would print a megabyte
    EXPECT_FALSE(r->out_truncated);
}

TEST(Spawn, ChildThatIgnoresStdinIsNotAnError) {
    auto o = opts({"/bin/true"});
    o.stdin_data.assign(4 << 20, 'y');  // the child exits without reading: EPIPE, no SIGPIPE for us
    auto r = spawn_capture(o);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->success());
}

TEST(Spawn, MissingProgramIsAnError) {
    auto r = spawn_capture(opts({"/nonexistent/lxm-no-such-program"}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::error_code(ENOENT, std::system_category()));
    EXPECT_NE(r.error().message().find("lxm-no-such-program"), std::string::npos);

    auto r2 = spawn_capture(opts({"lxm-no-such-program-in-path"}));
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().code, std::error_code(ENOENT, std::system_category()));

    EXPECT_FALSE(spawn_capture(opts({})));
}

TEST(Spawn, EnvironmentAndWorkingDirectory) {
    lxm::test::TempDir dir("spawn");
    auto o = opts({"/bin/sh", "-c", "echo \"$LXM_SPAWN_TEST:$HOME_X\"; pwd"});
    o.env = {"LXM_SPAWN_TEST=hello"};
    o.inherit_env = false;
    o.cwd = dir.path();
    ::setenv("HOME_X", "inherited", 1);
    auto r = spawn_capture(o);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->out, "hello:\n" + dir.path() + "\n");

    o.inherit_env = true;
    auto r2 = spawn_capture(o);
    ASSERT_TRUE(r2) << r2.error().message();
    EXPECT_EQ(r2->out, "hello:inherited\n" + dir.path() + "\n");
    ::unsetenv("HOME_X");
}

TEST(Spawn, TimeoutKillsTheChild) {
    auto o = opts({"/bin/sleep", "30"});
    o.timeout = 200ms;
    auto start = std::chrono::steady_clock::now();
    auto r = spawn_capture(o);
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->timed_out);
    EXPECT_EQ(r->term_signal, SIGKILL);
    EXPECT_FALSE(r->success());
    EXPECT_LT(took, 10s);
}

TEST(Spawn, ReportsDeathBySignal) {
    auto r = spawn_capture(opts({"/bin/sh", "-c", "kill -TERM $$"}));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->exit_code, -1);
    EXPECT_EQ(r->term_signal, SIGTERM);
    EXPECT_EQ(r->status_text(), "killed by signal 15");
}

TEST(Spawn, OutputIsBounded) {
    auto o = opts({"/bin/sh", "-c", "head -c 100000 /dev/zero"});
    o.output_limit = 1000;
    auto r = spawn_capture(o);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->success());
    EXPECT_EQ(r->out.size(), 1000u);
    EXPECT_TRUE(r->out_truncated);
    EXPECT_FALSE(r->err_truncated);
}

TEST(Spawn, ChildDoesNotInheritOurFds) {
    // Our test binary may hold non-CLOEXEC fds; the child sees only 0, 1, 2 (ls lists its own dirfd too).
    auto r = spawn_capture(opts({"/bin/ls", "/proc/self/fd"}));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->out, "0\n1\n2\n3\n");
}

TEST(Spawn, CheckedTurnsFailureIntoErrorWithStderr) {
    auto r = spawn_checked(opts({"/bin/sh", "-c", "echo 'bad thing happened' >&2; exit 2"}));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("exit status 2"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("bad thing happened"), std::string::npos) << r.error().message();
    auto ok = spawn_checked(opts({"/bin/true"}));
    EXPECT_TRUE(ok);
}

namespace {
// Whether pid is gone (or a zombie nobody reaped yet).
bool dead(pid_t pid) {
    std::string stat;
    if (auto s = lxm::base::read_file("/proc/" + std::to_string(pid) + "/stat"); s) stat = *s;
    else return true;
    auto rp = stat.rfind(')');
    return rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z';
}

// A process (forked here, standing in for lxmd) spawns `sleep` and is then killed with
// SIGKILL: returns the sleep's pid and whether it died within wait_ms.
std::pair<pid_t, bool> orphan_after_kill(bool die_with_parent, const std::string& pidfile, int wait_ms) {
    pid_t parent = ::fork();
    if (parent == 0) {
        SpawnOptions o;
        o.argv = {"/bin/sh", "-c", "echo $$ > " + pidfile + ".tmp && mv " + pidfile + ".tmp " + pidfile + " && exec sleep 30"};
        o.die_with_parent = die_with_parent;
        (void)spawn_capture(o);
        ::_exit(0);
    }
    pid_t child = 0;
    for (int i = 0; i < 500 && child == 0; ++i) {
        if (auto s = lxm::base::read_file(pidfile); s && !s->empty()) child = std::stoi(*s);
        else std::this_thread::sleep_for(10ms);
    }
    ::kill(parent, SIGKILL);
    ::waitpid(parent, nullptr, 0);
    if (child == 0) return {0, false};
    bool gone = false;
    for (int i = 0; i < wait_ms / 10 && !(gone = dead(child)); ++i) std::this_thread::sleep_for(10ms);
    return {child, gone};
}
}  // namespace

TEST(Spawn, DieWithParentKillsTheChildWhenItsSpawnerIsKilled) {
    lxm::test::TempDir tmp("spawn-pdeathsig");
    auto [with, died] = orphan_after_kill(true, tmp / "with", 5000);
    ASSERT_NE(with, 0) << "the spawned shell never wrote its pid";
    EXPECT_TRUE(died) << "sleep " << with << " outlived its killed spawner despite die_with_parent";
    if (!died) ::kill(with, SIGKILL);
    // Without it the child lives on (what the option exists for): the test can fail.
    auto [without, died2] = orphan_after_kill(false, tmp / "without", 500);
    ASSERT_NE(without, 0);
    EXPECT_FALSE(died2);
    ::kill(without, SIGKILL);
}
