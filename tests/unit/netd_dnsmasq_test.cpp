// netd dnsmasq: argv, static hosts file, lease file parser.
#include <gtest/gtest.h>

#include <algorithm>

#include "netd/dnsmasq.hpp"

using namespace lxm::netd;

namespace {
bool has_arg(const std::vector<std::string>& a, const std::string& x) { return std::find(a.begin(), a.end(), x) != a.end(); }
}  // namespace

TEST(NetdDnsmasq, Argv) {
    DnsmasqConfig c;
    c.bridge = "lxmbr0";
    c.state_dir = "/var/lib/lxm/networks/lxmbr0";
    c.ipv4_address = "10.1.2.1";
    c.dhcp_ranges = {"10.1.2.2,10.1.2.254"};
    c.domain = "lxm";
    c.mtu = 1400;
    auto a = dnsmasq_argv(c);
    EXPECT_EQ(a[0], "dnsmasq");
    for (const char* x : {"--conf-file=/dev/null", "--no-resolv", "--strict-order", "--bind-interfaces",
                          "--interface=lxmbr0", "--except-interface=lo", "--listen-address=10.1.2.1",
                          "--dhcp-range=10.1.2.2,10.1.2.254,1h", "--domain=lxm", "--local=/lxm/",
                          "--pid-file=/var/lib/lxm/networks/lxmbr0/dnsmasq.pid",
                          "--dhcp-leasefile=/var/lib/lxm/networks/lxmbr0/dnsmasq.leases",
                          "--dhcp-hostsfile=/var/lib/lxm/networks/lxmbr0/dnsmasq.hosts", "--dhcp-option-force=26,1400"})
        EXPECT_TRUE(has_arg(a, x)) << x;
    // No upstream servers of any kind.
    for (const auto& x : a) EXPECT_NE(x.rfind("--server", 0), 0u) << x;
    EXPECT_FALSE(has_arg(a, "--enable-ra"));
    c.ipv6_address = "fd42:1:2:3::1";
    a = dnsmasq_argv(c);
    EXPECT_TRUE(has_arg(a, "--enable-ra"));
    EXPECT_TRUE(has_arg(a, "--listen-address=fd42:1:2:3::1"));
    EXPECT_TRUE(has_arg(a, "--dhcp-range=::,constructor:lxmbr0,ra-stateless,ra-names"));
}

TEST(NetdDnsmasq, HostsFile) {
    auto t = render_hosts_file({{"00:16:3e:00:00:01", "10.1.2.5", "c1"}, {"00:16:3e:00:00:02", "", "web-2"}});
    ASSERT_TRUE(t) << t.error().message();
    EXPECT_EQ(*t, "00:16:3e:00:00:01,10.1.2.5,c1\n00:16:3e:00:00:02,web-2\n");
    EXPECT_FALSE(render_hosts_file({{"00:16:3e:00:00:01", "", "bad name"}}));
    EXPECT_FALSE(render_hosts_file({{"00:16:3e:00:00:01", "", "-x"}}));
    EXPECT_FALSE(render_hosts_file({{"zz", "", "c1"}}));
    EXPECT_FALSE(render_hosts_file({{"00:16:3e:00:00:01", "10.1.2.5\nx", "c1"}}));
    EXPECT_TRUE(valid_hostname("a"));
    EXPECT_FALSE(valid_hostname(std::string(64, 'a')));
}

TEST(NetdDnsmasq, ParseLeases) {
    const char* text =
        "1763870000 00:16:3e:aa:bb:cc 10.1.2.50 c1 01:00:16:3e:aa:bb:cc\n"
        "0 00:16:3e:aa:bb:dd 10.1.2.51 * *\n"
        "garbage\n"
        "\n"
        "duid 00:01:00:01:2c:aa:bb:cc:00:16:3e:00:00:01\n"
        "1763870001 1234 fd42:1:2:3::77 c2 00:01:00:01\n";
    auto l = parse_leases(text);
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[0].expiry, 1763870000);
    EXPECT_EQ(l[0].mac, "00:16:3e:aa:bb:cc");
    EXPECT_EQ(l[0].address, "10.1.2.50");
    EXPECT_EQ(l[0].hostname, "c1");
    EXPECT_EQ(l[0].client_id, "01:00:16:3e:aa:bb:cc");
    EXPECT_EQ(l[1].expiry, 0);
    EXPECT_EQ(l[1].hostname, "");
    EXPECT_EQ(l[1].client_id, "");
    EXPECT_EQ(l[2].mac, "");
    EXPECT_EQ(l[2].address, "fd42:1:2:3::77");
    EXPECT_EQ(l[2].hostname, "c2");
    EXPECT_TRUE(parse_leases("").empty());
}
