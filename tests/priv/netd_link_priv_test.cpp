// netd links on the real kernel, each test in a private network namespace of a
// forked child (nothing touches the host's links); the last test checks that
// no lxmt- link exists in the host namespace.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>

#include <algorithm>

#include "netd/link.hpp"
#include "netd/subnet.hpp"
#include "tests/priv/netd_netns_util.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm;
using namespace lxm::netd;
using lxm::test::run_in_private_netns;

TEST(NetdLinkNames, StableAndShort) {
    auto h = host_veth_name("c1", "eth0");
    EXPECT_EQ(h.size(), 15u);
    EXPECT_EQ(h.rfind("lxm", 0), 0u);
    EXPECT_EQ(h, host_veth_name("c1", "eth0"));
    EXPECT_NE(h, host_veth_name("c1", "eth1"));
    EXPECT_NE(h, host_veth_name("c2", "eth0"));
    auto p = peer_temp_name("c1", "eth0");
    EXPECT_EQ(p.size(), 15u);
    EXPECT_NE(p, h);
    auto mac = stable_mac("c1", "eth0");
    EXPECT_EQ(mac.size(), 17u);
    EXPECT_EQ(mac.rfind("00:16:3e:", 0), 0u);
    EXPECT_TRUE(parse_mac(mac));
    EXPECT_EQ(mac, stable_mac("c1", "eth0"));
    EXPECT_NE(mac, stable_mac("c1", "eth1"));
    EXPECT_FALSE(parse_mac("01:00:5e:00:00:01")) << "multicast";
    EXPECT_FALSE(parse_mac("00:16:3e:00:00"));
    EXPECT_FALSE(valid_link_name("0123456789abcdef"));
    EXPECT_FALSE(valid_link_name("a/b"));
    EXPECT_TRUE(valid_link_name("lxmt-br0"));
}

TEST(NetdLink, BridgeVethAddressesMtu) {
    LXM_REQUIRE_ROOT();
    auto err = run_in_private_netns([]() -> std::string {
        NETNS_OK(create_bridge("lxmt-br0", 1400));
        NETNS_CHECK(!create_bridge("lxmt-br0"));  // EEXIST
        NETNS_OK(set_link_up("lxmt-br0"));
        NETNS_OK(add_address("lxmt-br0", "10.99.1.1/24"));
        NETNS_OK(add_address("lxmt-br0", "10.99.1.1/24"));  // idempotent
        NETNS_OK(add_address("lxmt-br0", "fd42:99:1:1::1/64"));
        auto addrs = list_addresses("lxmt-br0");
        NETNS_OK(addrs);
        auto has = [&](const char* a) { return std::find(addrs->begin(), addrs->end(), a) != addrs->end(); };
        NETNS_CHECK(has("10.99.1.1/24"));
        NETNS_CHECK(has("fd42:99:1:1::1/64"));
        // The kernel's view now includes the bridge's subnet.
        auto used = read_used_networks();
        NETNS_OK(used);
        auto net = parse_ipv4_cidr("10.99.1.0/24").value();
        NETNS_CHECK(std::any_of(used->v4.begin(), used->v4.end(), [&](auto& n) { return n == net; }));
        auto pick = choose_ipv4_subnet(used->v4, "x");
        NETNS_CHECK(pick && !overlaps(*pick, net));

        NETNS_OK(create_veth("lxmt-h0", "lxmt-p0", 1400));
        LinkGuard guard("lxmt-h0");
        NETNS_OK(set_master("lxmt-h0", "lxmt-br0"));
        NETNS_OK(set_link_up("lxmt-h0"));
        auto br = get_link("lxmt-br0");
        NETNS_OK(br);
        NETNS_CHECK(br->has_value() && (*br)->kind == "bridge" && (*br)->up);
        auto h = get_link("lxmt-h0");
        NETNS_OK(h);
        NETNS_CHECK(h->has_value() && (*h)->kind == "veth" && (*h)->master == (*br)->index && (*h)->mtu == 1400);
        NETNS_OK(set_mtu("lxmt-br0", 1300));
        NETNS_OK(set_mac("lxmt-p0", "00:16:3e:01:02:03"));
        auto p = get_link("lxmt-p0");
        NETNS_OK(p);
        NETNS_CHECK(p->has_value() && (*p)->mac == "00:16:3e:01:02:03" && !(*p)->up);
        NETNS_OK(del_address("lxmt-br0", "10.99.1.1/24"));
        NETNS_OK(del_address("lxmt-br0", "10.99.1.1/24"));  // absent is fine
        // Guard removes the veth (and its peer with it).
        { LinkGuard moved = std::move(guard); }
        auto gone = get_link("lxmt-p0");
        NETNS_OK(gone);
        NETNS_CHECK(!gone->has_value());
        NETNS_OK(delete_link("lxmt-br0"));
        NETNS_CHECK(!delete_link("lxmt-br0"));
        NETNS_OK(delete_link_if_exists("lxmt-br0"));
        auto links = list_links();
        NETNS_OK(links);
        for (auto& l : *links) NETNS_CHECK(l.name.rfind("lxmt-", 0) != 0);
        return "";
    });
    EXPECT_EQ(err, "");
}

// The runtime side: a veth peer moves into another process's netns and becomes eth0.
TEST(NetdLink, MoveLinkIntoNetnsOfPid) {
    LXM_REQUIRE_ROOT();
    auto err = run_in_private_netns([]() -> std::string {
        int ready[2], go[2];
        NETNS_CHECK(::pipe2(ready, O_CLOEXEC) == 0 && ::pipe2(go, O_CLOEXEC) == 0);
        pid_t gc = ::fork();
        NETNS_CHECK(gc >= 0);
        if (gc == 0) {
            // Grandchild: the "container" with its own netns.
            if (::unshare(CLONE_NEWNET) != 0) ::_exit(10);
            char c = 'r';
            if (::write(ready[1], &c, 1) != 1) ::_exit(11);
            if (::read(go[0], &c, 1) != 1) ::_exit(12);
            auto l = get_link("eth0");
            if (!l || !l->has_value()) ::_exit(13);
            if ((*l)->mac != "00:16:3e:aa:bb:cc") ::_exit(14);
            if ((*l)->mtu != 1350) ::_exit(15);
            if (!(*l)->up) ::_exit(16);
            auto tmp = get_link("lxmt-p1");
            if (!tmp || tmp->has_value()) ::_exit(17);
            ::_exit(0);
        }
        ::close(ready[1]);
        ::close(go[0]);
        char c;
        NETNS_CHECK(::read(ready[0], &c, 1) == 1);
        NETNS_OK(create_veth("lxmt-h1", "lxmt-p1"));
        LinkGuard guard("lxmt-h1");
        auto moved = move_link_to_netns("lxmt-p1", gc, "eth0", "00:16:3e:aa:bb:cc", 1350);
        c = 'g';
        (void)!::write(go[1], &c, 1);
        int status = 0;
        ::waitpid(gc, &status, 0);
        NETNS_OK(moved);
        NETNS_CHECK(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0) return "grandchild check failed with code " + std::to_string(WEXITSTATUS(status));
        // The peer left our namespace; bad pid and bad names fail cleanly.
        auto p = get_link("lxmt-p1");
        NETNS_OK(p);
        NETNS_CHECK(!p->has_value());
        NETNS_CHECK(!move_link_to_netns("lxmt-nope", ::getpid(), "eth0"));
        NETNS_CHECK(!move_link_to_netns("lxmt-h1", 0x7ffffff0, "eth0"));
        NETNS_CHECK(!move_link_to_netns("lxmt-h1", ::getpid(), "bad/name"));
        return "";
    });
    EXPECT_EQ(err, "");
}

// Runs last in this file: nothing named lxmt- in the host namespace.
TEST(NetdLink, ZzNoTestLinksLeftOnHost) {
    auto links = list_links();
    ASSERT_TRUE(links) << links.error().message();
    for (const auto& l : *links) EXPECT_NE(l.name.rfind("lxmt-", 0), 0u) << "left over: " << l.name;
}
