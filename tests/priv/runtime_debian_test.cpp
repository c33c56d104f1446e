// Debian 12 with systemd as PID 1, unprivileged, through lxm-monitor: it must
// reach `systemctl is-system-running` = running with no failed unit, and stop
// gracefully on SIGRTMIN+3.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "tests/support/container_fixture.hpp"

using lxm::test::TestContainer;

TEST(RuntimeDebian, BootsSystemdToRunningAndStopsGracefully) {
    LXM_REQUIRE_ROOT();
    TestContainer c("debian-12", "deb1");
    if (!c.available()) GTEST_SKIP() << c.unavailable_reason();
    auto l = c.start();
    ASSERT_TRUE(l) << l.error().message();

    struct stat st;
    ASSERT_EQ(::stat(("/proc/" + std::to_string(l->init_pid)).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, c.host_base());

    // systemctl answers "offline" until systemd has made its private socket.
    auto state = c.exec({"sh", "-c",
                         "for i in $(seq 300); do [ -S /run/systemd/private ] && break; sleep 0.1; done; "
                         "systemctl is-system-running --wait"},
                        120);
    ASSERT_TRUE(state) << state.error().message();
    auto failed = c.exec({"systemctl", "--failed", "--no-legend", "--plain"});
    ASSERT_TRUE(failed);
    EXPECT_EQ(state->out, "running\n") << "failed units:\n" << failed->out;
    EXPECT_EQ(failed->out, "");

    auto id = c.exec({"id", "-u"});
    ASSERT_TRUE(id && id->code == 0);
    EXPECT_EQ(id->out, "0\n");
    auto virt = c.exec({"systemd-detect-virt", "--container"});
    ASSERT_TRUE(virt);
    EXPECT_NE(virt->out, "none\n");

    auto t0 = std::chrono::steady_clock::now();
    auto code = c.stop(30, false);
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(code) << code.error().message();
    // systemd powers off (reboot(2) in a pid namespace ends init with SIGINT), it is not killed.
    EXPECT_EQ(*code, 128 + SIGINT);
    EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 3000);
    EXPECT_TRUE(c.wait_monitor_gone(5000));
    for (const auto& d : c.cgroup_dirs("deb1")) EXPECT_FALSE(::access(d.c_str(), F_OK) == 0) << d;
}
