// Issue 3's acceptance through the CLI with the Debian image: the real lxm against the real
// lxmd (temp LXM_DIR, --default-network none): launch debian/12, list RUNNING with init's pid,
// exec with exit codes, the console log shows systemd booting, stop, start; lxmd restarted with
// SIGTERM and with SIGKILL while the container runs: it keeps running (same init) and list,
// exec and stop work once lxmd is back; delete.
#include <signal.h>
#include <unistd.h>

#include "lxm/runtime/monitor_client.hpp"
#include "tests/e2e/cli_fixture.hpp"

namespace lxm::test {
namespace {

class CliDebian : public CliDaemon {
protected:
    void TearDown() override {
        if (lxmd_ > 0) lxm({"delete", "--force", name_});
        CliDaemon::TearDown();
        // If lxmd was lost mid-test, the container must not outlive the test: ask its monitor.
        std::string sock = dir_ / ("containers/" + name_ + "/monitor.sock");
        if (::access(sock.c_str(), F_OK) == 0)
            if (auto c = runtime::MonitorClient::connect(sock); c) (void)c->stop(0, true);
    }

    // init's pid from `lxm list -f csv -c nsp`, expecting the state want (0 when no pid is shown).
    int listed_pid(const std::string& want = "RUNNING") {
        auto l = lxm({"list", "-f", "csv", "-c", "nsp"});
        EXPECT_EQ(l.rc, 0) << l.err;
        std::string prefix = name_ + "," + want + ",";
        EXPECT_TRUE(l.out.starts_with(prefix)) << l.out;
        if (!l.out.starts_with(prefix)) return 0;
        std::string rest = l.out.substr(prefix.size());
        return rest.empty() || rest[0] == '\n' ? 0 : std::stoi(rest);
    }

    // Wait until systemd in the container finished booting (running or degraded).
    void wait_booted() {
        auto b = lxm({"exec", name_, "--", "sh", "-c",
                      "for i in $(seq 600); do [ -S /run/systemd/private ] && break; sleep 0.1; done; "
                      "timeout 120 systemctl is-system-running --wait"});
        EXPECT_TRUE(b.out.find("running") != std::string::npos || b.out.find("degraded") != std::string::npos)
            << b.out << b.err;
    }

    std::string name_ = name("deb");
};

TEST_F(CliDebian, LifecycleAndDaemonRestarts) {
    auto launch = lxm({"launch", "debian/12", name_});
    ASSERT_EQ(launch.rc, 0) << launch.err << log();

    int pid = listed_pid();
    ASSERT_GT(pid, 1);
    EXPECT_EQ(::kill(pid, 0), 0) << "the listed pid is not a live process";
    EXPECT_EQ(slurp("/proc/" + std::to_string(pid) + "/comm"), "systemd\n");
    wait_booted();

    auto ver = lxm({"exec", name_, "--", "cat", "/etc/debian_version"});
    EXPECT_EQ(ver.rc, 0) << ver.err;
    EXPECT_TRUE(ver.out.starts_with("12.")) << ver.out;
    EXPECT_EQ(lxm({"exec", name_, "--", "sh", "-c", "exit 7"}).rc, 7);
    EXPECT_EQ(lxm({"exec", name_, "--", "/no/such/command"}).rc, 127);

    auto log = lxm({"console", name_, "--show-log"});
    EXPECT_EQ(log.rc, 0) << log.err;
    EXPECT_NE(log.out.find("systemd"), std::string::npos) << log.out.substr(0, 2000);
    EXPECT_NE(log.out.find("Debian GNU/Linux 12"), std::string::npos) << log.out.substr(0, 2000);

    // lxmd goes away (cleanly, then killed) while the container runs; it comes back to the same init.
    for (int sig : {SIGTERM, SIGKILL}) {
        SCOPED_TRACE(sig == SIGTERM ? "after SIGTERM" : "after SIGKILL");
        stop_lxmd(sig);
        EXPECT_EQ(::kill(pid, 0), 0) << "init died with lxmd";
        start_lxmd();
        EXPECT_EQ(listed_pid(), pid);
        auto e = lxm({"exec", name_, "--", "sh", "-c", "echo alive; exit 5"});
        EXPECT_EQ(e.rc, 5) << e.err;
        EXPECT_EQ(e.out, "alive\n");
    }

    // A clean shutdown through systemd, a new boot, then a forced stop.
    auto stop = lxm({"stop", name_, "--timeout", "120"});
    ASSERT_EQ(stop.rc, 0) << stop.err;
    EXPECT_EQ(listed_pid("STOPPED"), 0);
    EXPECT_NE(::kill(pid, 0), 0) << "init still alive after stop";
    ASSERT_EQ(lxm({"start", name_}).rc, 0);
    int pid2 = listed_pid();
    EXPECT_GT(pid2, 1);
    EXPECT_NE(pid2, pid);
    wait_booted();
    EXPECT_EQ(lxm({"exec", name_, "--", "sh", "-c", "exit 9"}).rc, 9);
    ASSERT_EQ(lxm({"stop", "--force", name_}).rc, 0);
    EXPECT_EQ(listed_pid("STOPPED"), 0);

    ASSERT_EQ(lxm({"delete", name_}).rc, 0);
    EXPECT_EQ(lxm({"list", "-f", "csv"}).out, "");
}

}  // namespace
}  // namespace lxm::test
