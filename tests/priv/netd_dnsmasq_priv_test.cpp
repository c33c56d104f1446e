// dnsmasq on a bridge in a private network namespace: a "container" (a
// grandchild in its own netns, its eth0 moved in with move_link_to_netns) gets
// its static lease from dnsmasq with busybox udhcpc; the lease file shows it,
// <name>.<domain> resolves through dnsmasq; a killed dnsmasq comes back with
// its leases; every process is stopped by pid.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lxm/base/file.hpp"
#include "netd/dnsmasq.hpp"
#include "netd/link.hpp"
#include "tests/priv/netd_dns_query.hpp"
#include "tests/priv/netd_netns_util.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm;
using namespace lxm::netd;
using lxm::test::run_in_private_netns;

namespace {

// Fork a process that unshares its own netns, waits for "go", then execs argv.
struct Container {
    pid_t pid = -1;
    int go_fd = -1;
};

Container fork_container(const std::vector<std::string>& argv) {
    int ready[2], go[2];
    if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0) return {};
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::unshare(CLONE_NEWNET) != 0) ::_exit(120);
        char c = 'r';
        if (::write(ready[1], &c, 1) != 1) ::_exit(121);
        if (::read(go[0], &c, 1) != 1) ::_exit(122);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(ready[1]);
    ::close(go[0]);
    char c;
    if (pid < 0 || ::read(ready[0], &c, 1) != 1) {
        ::close(ready[0]);
        return {};
    }
    ::close(ready[0]);
    return {pid, go[1]};
}

// Wait for a child with a deadline; SIGKILL it on timeout. Returns the exit code or -1.
int wait_with_timeout(pid_t pid, std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    for (;;) {
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0) return -1;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

// Exited (possibly not yet reaped by whoever it was reparented to).
bool gone_or_zombie(pid_t pid) {
    auto stat = base::read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    auto close = stat->rfind(')');
    return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z';
}

}  // namespace

TEST(NetdDnsmasqPriv, LeaseDnsRestart) {
    LXM_REQUIRE_ROOT();
    if (!base::path_exists("/usr/sbin/dnsmasq")) GTEST_SKIP() << "dnsmasq (dnsmasq-base) is not installed";
    if (!base::path_exists("/bin/busybox") && !base::path_exists("/usr/bin/busybox"))
        GTEST_SKIP() << "busybox (busybox-static) is not installed";
    std::string busybox = base::path_exists("/bin/busybox") ? "/bin/busybox" : "/usr/bin/busybox";
    test::TempDir dir("dnsmasq");
    ::chmod(dir.path().c_str(), 0755);
    DnsmasqConfig cfg;
    cfg.bridge = "lxmt-br1";
    cfg.state_dir = dir.path();
    cfg.ipv4_address = "10.97.3.1";
    cfg.dhcp_ranges = {"10.97.3.2,10.97.3.254"};
    cfg.domain = "lxmt";
    cfg.binary = "/usr/sbin/dnsmasq";

    auto err = run_in_private_netns([&]() -> std::string {
        NETNS_OK(set_link_up("lo"));
        NETNS_OK(create_bridge("lxmt-br1"));
        NETNS_OK(add_address("lxmt-br1", "10.97.3.1/24"));
        NETNS_OK(set_link_up("lxmt-br1"));
        NETNS_OK(create_veth("lxmt-h3", "lxmt-p3"));
        NETNS_OK(set_master("lxmt-h3", "lxmt-br1"));
        NETNS_OK(set_link_up("lxmt-h3"));

        Dnsmasq d(cfg);
        // Stop dnsmasq by pid however this body ends.
        struct Stop {
            Dnsmasq& d;
            ~Stop() { (void)d.stop(); }
        } stop{d};
        const std::string mac = "00:16:3e:12:34:56";
        NETNS_OK(d.set_static_hosts({{mac, "10.97.3.50", "lxmt-c1"}}));
        NETNS_OK(d.start());
        auto pid1 = d.running_pid();
        NETNS_CHECK(pid1.has_value());
        NETNS_OK(d.start());  // already running: no second process
        NETNS_CHECK(d.running_pid() == pid1);

        // The "container": udhcpc on eth0 in its own netns; -n: fail without a lease.
        auto c = fork_container({busybox, "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-s", "/bin/true", "-t", "5",
                                 "-T", "2", "-x", "hostname:lxmt-c1"});
        NETNS_CHECK(c.pid > 0);
        auto moved = move_link_to_netns("lxmt-p3", c.pid, "eth0", mac, 0);
        char g = 'g';
        (void)!::write(c.go_fd, &g, 1);
        ::close(c.go_fd);
        int code = wait_with_timeout(c.pid, std::chrono::seconds(30));
        NETNS_OK(moved);
        if (code != 0) return "udhcpc did not get a lease (exit " + std::to_string(code) + ")";

        auto leases = d.leases();
        NETNS_OK(leases);
        bool found = false;
        for (auto& l : *leases)
            if (l.mac == mac && l.address == "10.97.3.50") found = true;
        if (!found) return "static lease not in " + d.lease_file() + ": " + base::read_file(d.lease_file()).value_or("?");

        auto a = test::dns_query_a("10.97.3.1", "lxmt-c1.lxmt");
        if (a != "10.97.3.50") return "DNS lxmt-c1.lxmt gave '" + a + "'";
        // No upstream: names outside the domain get nothing.
        NETNS_CHECK(test::dns_query_a("10.97.3.1", "example.com", 1000).empty());

        // Reload keeps it running.
        NETNS_OK(d.set_static_hosts({{mac, "10.97.3.50", "lxmt-c1"}, {"00:16:3e:12:34:57", "", "lxmt-c2"}}));
        NETNS_CHECK(d.running_pid() == pid1);
        auto r0 = d.check_and_restart();
        NETNS_OK(r0);
        NETNS_CHECK(!*r0);

        // Kill it: the supervisor brings it back, and the lease is still known.
        NETNS_CHECK(::kill(*pid1, SIGKILL) == 0);
        for (int i = 0; i < 100 && d.running_pid(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        NETNS_CHECK(!d.running_pid());
        auto r1 = d.check_and_restart();
        NETNS_OK(r1);
        NETNS_CHECK(*r1);
        auto pid2 = d.running_pid();
        NETNS_CHECK(pid2 && pid2 != pid1);
        a = test::dns_query_a("10.97.3.1", "lxmt-c1.lxmt");
        if (a != "10.97.3.50") return "after restart, DNS lxmt-c1.lxmt gave '" + a + "'";

        NETNS_OK(d.stop());
        NETNS_CHECK(!d.running_pid());
        NETNS_CHECK(gone_or_zombie(*pid2));
        // The container's netns died with udhcpc, taking eth0 and so its host end lxmt-h3 with it.
        auto h3 = get_link("lxmt-h3");
        NETNS_OK(h3);
        NETNS_CHECK(!h3->has_value());
        NETNS_OK(delete_link("lxmt-br1"));
        return "";
    });
    EXPECT_EQ(err, "");
    // Backstop: the body's netns is gone; make sure its dnsmasq is too (by its pid file).
    Dnsmasq d(cfg);
    if (auto pid = d.running_pid()) {
        ADD_FAILURE() << "dnsmasq " << *pid << " still running";
        ::kill(*pid, SIGKILL);
    }
}
