// netd nic plug (the monitor's re-plug after a reboot inside the container): in a
// private netns of a forked child, a "container" netns held by a sleeping grandchild
// gets the nic; when that netns dies the pair dies with it, and plug_nic() on a new
// netns recreates it on the bridge with the same MAC, MTU and name.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "lxm/base/file.hpp"
#include "netd/link.hpp"
#include "netd/nic_plug.hpp"
#include "tests/priv/netd_netns_util.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm;
using namespace lxm::netd;
using lxm::test::run_in_private_netns;

namespace {
// A child in a new netns that sleeps until killed.
pid_t netns_holder() {
    pid_t p = ::fork();
    if (p == 0) {
        if (::unshare(CLONE_NEWNET) != 0) ::_exit(1);
        for (;;) ::pause();
    }
    // Wait until the child's netns differs from ours.
    for (int i = 0; i < 200; ++i) {
        char a[64] = {}, b[64] = {};
        auto self = ::readlink("/proc/self/ns/net", a, sizeof a - 1);
        auto other = ::readlink(("/proc/" + std::to_string(p) + "/ns/net").c_str(), b, sizeof b - 1);
        if (self > 0 && other > 0 && std::string(a) != std::string(b)) break;
        ::usleep(10000);
    }
    return p;
}
void end(pid_t p) {
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
}
}  // namespace

TEST(NetdNicPlug, FileRoundTripAndRejectsCorruptEntries) {
    test::TempDir dir("nicplug");
    std::string f = dir / "nics.json";
    auto none = read_nic_plugs(f);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    NicPlug p{"lxm0123456789a", "lxp0123456789a", "eth0", "lxmt-br", "00:16:3e:01:02:03", 1400};
    ASSERT_TRUE(write_nic_plugs(f, {p}));
    auto back = read_nic_plugs(f);
    ASSERT_TRUE(back) << back.error().message();
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ((*back)[0].peer, p.peer);
    EXPECT_EQ((*back)[0].bridge, p.bridge);
    EXPECT_EQ((*back)[0].mtu, 1400u);
    ASSERT_TRUE(base::write_file_atomic(f, R"([{"host_veth":"a/b","peer":"x","inside_name":"eth0","bridge":"b"}])"));
    EXPECT_FALSE(read_nic_plugs(f));
}

TEST(NetdNicPlug, ReplugAfterTheNetnsDied) {
    LXM_REQUIRE_ROOT();
    auto err = run_in_private_netns([]() -> std::string {
        NETNS_OK(create_bridge("lxmt-pbr"));
        NETNS_OK(set_link_up("lxmt-pbr"));
        NicPlug plug{host_veth_name("plug", "eth0"), peer_temp_name("plug", "eth0"), "eth0", "lxmt-pbr",
                     stable_mac("plug", "eth0"), 1400};
        for (int boot = 0; boot < 2; ++boot) {
            pid_t c = netns_holder();
            auto r = plug_nic(plug, c);
            if (!r) {
                end(c);
                return "boot " + std::to_string(boot) + ": " + r.error().message();
            }
            auto host = get_link(plug.host_veth);
            NETNS_OK(host);
            NETNS_CHECK(host->has_value());
            auto br = get_link("lxmt-pbr");
            NETNS_OK(br);
            NETNS_CHECK((*host)->master == (*br)->index);
            NETNS_CHECK((*host)->up);
            auto peer = get_link(plug.peer);
            NETNS_OK(peer);
            NETNS_CHECK(!peer->has_value());  // moved away
            // Inside it is eth0 (/proc/<pid>/net shows the netns of that pid).
            auto dev = base::read_file("/proc/" + std::to_string(c) + "/net/dev");
            NETNS_OK(dev);
            NETNS_CHECK(dev->find("eth0:") != std::string::npos);
            NETNS_CHECK((*host)->mtu == 1400);
            end(c);
            // The netns is gone, and the veth pair with it (asynchronously).
            bool gone = false;
            for (int i = 0; i < 200 && !gone; ++i) {
                auto h = get_link(plug.host_veth);
                NETNS_OK(h);
                gone = !h->has_value();
                if (!gone) ::usleep(10000);
            }
            NETNS_CHECK(gone);
        }
        NETNS_OK(delete_link("lxmt-pbr"));
        return "";
    });
    EXPECT_EQ(err, "");
}
