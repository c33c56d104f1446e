// NetworkManager end to end in a private network namespace: create two
// networks, allocate a nic with a static address, a "container" (a process in
// its own netns) gets that lease by DHCP, its name resolves, dnsmasq is
// restarted when killed, a second manager adopts everything (daemon restart),
// update, port forwards, and complete teardown (no link, table or process left).
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lxm/base/file.hpp"
#include "netd/link.hpp"
#include "netd/network.hpp"
#include "netd/nft.hpp"
#include "tests/priv/netd_dns_query.hpp"
#include "tests/priv/netd_netns_util.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm;
using namespace lxm::netd;
using lxm::test::run_in_private_netns;

namespace {

std::string busybox_path() {
    for (const char* p : {"/bin/busybox", "/usr/bin/busybox"})
        if (base::path_exists(p)) return p;
    return {};
}

// A process in its own netns running udhcpc on eth0 once released; returns pid and the release fd.
std::pair<pid_t, int> fork_dhcp_client(const std::string& busybox, const std::string& hostname) {
    int ready[2], go[2];
    if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0) return {-1, -1};
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::unshare(CLONE_NEWNET) != 0) ::_exit(120);
        char c = 'r';
        if (::write(ready[1], &c, 1) != 1 || ::read(go[0], &c, 1) != 1) ::_exit(121);
        std::string x = "hostname:" + hostname;
        ::execl(busybox.c_str(), busybox.c_str(), "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-s", "/bin/true", "-t", "5",
                "-T", "2", "-x", x.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(ready[1]);
    ::close(go[0]);
    char c;
    if (pid < 0 || ::read(ready[0], &c, 1) != 1) pid = -1;
    ::close(ready[0]);
    return {pid, go[1]};
}

int wait_exit(pid_t pid, std::chrono::seconds timeout) {
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

bool gone_or_zombie(pid_t pid) {
    auto stat = base::read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    auto close = stat->rfind(')');
    return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z';
}

std::optional<pid_t> dnsmasq_pid(const std::string& state, const std::string& net) {
    DnsmasqConfig c;
    c.bridge = net;
    c.state_dir = state + "/" + net;
    return Dnsmasq(c).running_pid();
}

}  // namespace

TEST(NetdNetworkPriv, Lifecycle) {
    LXM_REQUIRE_ROOT();
    if (!base::path_exists("/usr/sbin/dnsmasq")) GTEST_SKIP() << "dnsmasq (dnsmasq-base) is not installed";
    std::string busybox = busybox_path();
    if (busybox.empty()) GTEST_SKIP() << "busybox (busybox-static) is not installed";
    test::TempDir dir("netmgr");
    ::chmod(dir.path().c_str(), 0755);
    NetworkManager::Options opts;
    opts.state_dir = dir.path() + "/networks";
    opts.nft_table = "lxmt_" + std::to_string(::getpid());
    opts.dnsmasq_binary = "/usr/sbin/dnsmasq";

    auto err = run_in_private_netns([&]() -> std::string {
        NETNS_OK(set_link_up("lo"));
        std::optional<NetworkManager> mgr(std::in_place, opts);
        // However the body ends, nothing may stay behind.
        struct Cleanup {
            std::optional<NetworkManager>& m;
            const NetworkManager::Options& o;
            ~Cleanup() {
                if (!m) m.emplace(o);
                for (const char* n : {"lxmt-net0", "lxmt-net1"}) (void)m->remove(n, true);
                (void)nft_delete_table(o.nft_table);
            }
        } cleanup{mgr, opts};

        auto bad = mgr->create("lxmt-net0", {{"ipv4.bogus", "1"}});
        NETNS_CHECK(!bad);
        NETNS_CHECK(!mgr->create("lxmt-net0", {{"ipv4.address", "10.1.2.0/24"}}));  // network address

        // A new network namespace copies the host's forwarding setting: start from off,
        // so the manager has to enable it (and say so).
        NETNS_OK(base::write_file("/proc/sys/net/ipv4/ip_forward", "0\n"));
        auto filled = mgr->create("lxmt-net0", {});
        NETNS_OK(filled);
        auto v4 = parse_ipv4_cidr(filled->at("ipv4.address"));
        NETNS_OK(v4);
        NETNS_CHECK(filled->at("ipv4.nat") == "true");
        NETNS_CHECK(v4->prefix == 24 && (v4->addr & 0xff) == 1 && (v4->addr >> 24) == 10);
        NETNS_CHECK(!mgr->create("lxmt-net0", {}));  // exists
        auto notices = mgr->take_notices();
        NETNS_CHECK(!notices.empty() && notices[0].find("IP forwarding") != std::string::npos);

        auto other = mgr->create("lxmt-net1", {{"ipv4.address", "10.96.5.1/24"}, {"ipv4.nat", "false"},
                                               {"ipv6.address", "auto"}});
        NETNS_OK(other);
        // IPv6: a ULA /64 was chosen, the bridge has it, dnsmasq runs with RA.
        auto v6 = parse_ipv6_cidr(other->at("ipv6.address"));
        NETNS_OK(v6);
        NETNS_CHECK(v6->prefix == 64 && v6->addr[0] == 0xfd && other->at("ipv6.nat") == "true");
        auto addrs1 = list_addresses("lxmt-net1");
        NETNS_OK(addrs1);
        NETNS_CHECK(std::find(addrs1->begin(), addrs1->end(), other->at("ipv6.address")) != addrs1->end());
        NETNS_CHECK(dnsmasq_pid(opts.state_dir, "lxmt-net1").has_value());
        NETNS_CHECK(!overlaps(v4->network(), parse_ipv4_cidr("10.96.5.0/24").value()));

        auto br = get_link("lxmt-net0");
        NETNS_OK(br);
        NETNS_CHECK(br->has_value() && (*br)->kind == "bridge" && (*br)->up);
        auto addrs = list_addresses("lxmt-net0");
        NETNS_OK(addrs);
        NETNS_CHECK(std::find(addrs->begin(), addrs->end(), filled->at("ipv4.address")) != addrs->end());
        auto table = nft_list_table_json(opts.nft_table);
        NETNS_OK(table);
        NETNS_CHECK(table->find("masquerade") != std::string::npos);
        auto pid1 = dnsmasq_pid(opts.state_dir, "lxmt-net0");
        NETNS_CHECK(pid1.has_value());

        // The nic: static address .50 of the auto subnet.
        std::string ip = ipv4_to_string(v4->network().addr | 50);
        auto nic = mgr->allocate_nic("lxmt-net0", "c1", "eth0", {{"ipv4.address", ip}});
        NETNS_OK(nic);
        NETNS_CHECK(nic->inside_name == "eth0" && nic->mac == stable_mac("c1", "eth0") && nic->ipv4 == ip);
        NETNS_CHECK(nic->net_link() == nic->peer + "=eth0");
        auto host = get_link(nic->host_veth);
        NETNS_OK(host);
        NETNS_CHECK(host->has_value() && (*host)->master == (*br)->index && (*host)->up);
        auto peer = get_link(nic->peer);
        NETNS_OK(peer);
        NETNS_CHECK(peer->has_value() && (*peer)->mac == nic->mac);
        // Same static address for another instance: refused.
        auto clash = mgr->allocate_nic("lxmt-net0", "c2", "eth0", {{"ipv4.address", ip}});
        NETNS_CHECK(!clash && clash.error().code == std::errc::address_in_use);
        NETNS_CHECK(!mgr->allocate_nic("lxmt-net0", "c2", "eth0", {{"ipv4.address", "192.0.2.5"}}));
        NETNS_CHECK(!mgr->allocate_nic("nope", "c2", "eth0", {}));

        // The container gets its static lease over DHCP; the runtime side moves the peer in.
        auto [cpid, go] = fork_dhcp_client(busybox, "c1");
        NETNS_CHECK(cpid > 0);
        auto moved = move_link_to_netns(nic->peer, cpid, nic->inside_name);
        char g = 'g';
        (void)!::write(go, &g, 1);
        ::close(go);
        int code = wait_exit(cpid, std::chrono::seconds(30));
        NETNS_OK(moved);
        if (code != 0) return "udhcpc exit " + std::to_string(code);
        auto leases = mgr->leases("lxmt-net0");
        NETNS_OK(leases);
        NETNS_CHECK(std::any_of(leases->begin(), leases->end(),
                                [&](const Lease& l) { return l.mac == nic->mac && l.address == ip; }));
        std::string bridge_ip = ipv4_to_string(v4->addr);
        auto a = test::dns_query_a(bridge_ip, "c1.lxm");
        if (a != ip) return "c1.lxm resolved to '" + a + "'";
        // The container's netns went away with udhcpc; its host veth with it.
        NETNS_OK(mgr->release_nic("lxmt-net0", "c1", "eth0"));

        // addresses_in_netns: here, our own namespace shows the bridge address.
        auto seen = addresses_in_netns(::getpid());
        NETNS_OK(seen);
        NETNS_CHECK(std::any_of(seen->begin(), seen->end(), [&](const InterfaceAddress& x) {
            return x.interface == "lxmt-net0" && x.address == bridge_ip && x.prefix == 24 && x.family == "inet";
        }));

        // Supervision: a killed dnsmasq comes back, leases intact.
        NETNS_CHECK(::kill(*pid1, SIGKILL) == 0);
        for (int i = 0; i < 100 && dnsmasq_pid(opts.state_dir, "lxmt-net0"); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        auto restarted = mgr->check_and_restart();
        NETNS_OK(restarted);
        NETNS_CHECK(restarted->size() == 1 && (*restarted)[0] == "lxmt-net0");
        auto pid2 = dnsmasq_pid(opts.state_dir, "lxmt-net0");
        NETNS_CHECK(pid2 && pid2 != pid1);
        a = test::dns_query_a(bridge_ip, "c1.lxm");
        if (a != ip) return "after restart c1.lxm resolved to '" + a + "'";

        // Daemon restart: a new manager adopts the running dnsmasq and the registrations.
        mgr->detach();
        mgr.emplace(opts);
        NETNS_OK(mgr->start("lxmt-net0", *filled));
        NETNS_OK(mgr->start("lxmt-net1", *other));
        NETNS_CHECK(dnsmasq_pid(opts.state_dir, "lxmt-net0") == pid2);
        clash = mgr->allocate_nic("lxmt-net0", "c2", "eth0", {{"ipv4.address", ip}});
        NETNS_CHECK(!clash && clash.error().code == std::errc::address_in_use);

        // Port forwards.
        NftForward f;
        f.listen_port = 18080;
        f.target_address = ip;
        f.target_port = 80;
        NETNS_OK(mgr->set_forwards("c1/web", {f}));
        table = nft_list_table_json(opts.nft_table);
        NETNS_OK(table);
        NETNS_CHECK(table->find("\"dnat\":") != std::string::npos);
        // Listen conflicts between owners: same protocol and port on overlapping addresses.
        NftForward fwd2 = f;
        fwd2.listen_address = "127.0.0.1";  // inside the wildcard of c1/web
        auto taken = mgr->set_forwards("c2/web", {fwd2});
        NETNS_CHECK(!taken && taken.error().code == std::errc::address_in_use);
        NETNS_CHECK(taken.error().message().find("already forwarded by c1/web") != std::string::npos);
        auto who = mgr->forward_conflict(fwd2, "c2/web");
        NETNS_OK(who);
        NETNS_CHECK(*who == "c1/web");
        fwd2.proto = "udp";  // another protocol: free
        NETNS_OK(mgr->set_forwards("c2/web", {fwd2}));
        NETNS_OK(mgr->set_forwards("c1/web", {f}));  // an owner replacing its own: fine
        auto all = mgr->forwards();
        NETNS_OK(all);
        NETNS_CHECK(all->size() == 2 && all->contains("c1/web") && all->contains("c2/web"));
        NETNS_OK(mgr->remove_forwards("c2/web"));
        f.listen_address = "::1";
        f.target_address = "fd42::5";
        NETNS_CHECK(!mgr->set_forwards("c1/lo", {f}));  // DNAT cannot serve IPv6 loopback
        NETNS_OK(mgr->remove_forwards("c1/web"));
        table = nft_list_table_json(opts.nft_table);
        NETNS_OK(table);
        NETNS_CHECK(table->find("\"dnat\":") == std::string::npos);

        // Update: MTU and DNS domain change; dnsmasq restarts with them.
        auto cfg = *filled;
        cfg["bridge.mtu"] = "1400";
        cfg["dns.domain"] = "lxmt";
        NETNS_OK(mgr->update("lxmt-net0", cfg));
        br = get_link("lxmt-net0");
        NETNS_CHECK(br && br->has_value() && (*br)->mtu == 1400);
        auto pid3 = dnsmasq_pid(opts.state_dir, "lxmt-net0");
        NETNS_CHECK(pid3 && pid3 != pid2);
        a = test::dns_query_a(bridge_ip, "c1.lxmt");
        if (a != ip) return "after update c1.lxmt resolved to '" + a + "'";
        NETNS_CHECK(!mgr->update("lxmt-net0", {{"bridge.mtu", "12"}}));

        // Teardown: busy while registered, then everything goes.
        auto busy = mgr->remove("lxmt-net0");
        NETNS_CHECK(!busy && busy.error().code == std::errc::device_or_resource_busy);
        NETNS_OK(mgr->forget_instance("c1"));
        NETNS_OK(mgr->remove("lxmt-net0"));
        NETNS_OK(mgr->remove("lxmt-net1"));
        NETNS_CHECK(mgr->networks().empty());
        auto links = list_links();
        NETNS_OK(links);
        for (auto& l : *links)
            if (l.name != "lo") return "link left: " + l.name;
        NETNS_CHECK(!nft_list_table_json(opts.nft_table));
        NETNS_CHECK(gone_or_zombie(*pid3));
        NETNS_CHECK(!base::path_exists(opts.state_dir + "/lxmt-net0"));
        return "";
    }, std::chrono::seconds(120));
    EXPECT_EQ(err, "");
}
