// netd network config validation (no kernel access).
#include <gtest/gtest.h>

#include "netd/network.hpp"

using namespace lxm::netd;

TEST(NetdNetworkConfig, Validate) {
    EXPECT_TRUE(validate_network_config("lxmbr0", {}));
    EXPECT_TRUE(validate_network_config("lxmbr0", {{"ipv4.address", "auto"}, {"ipv6.address", "none"}}));
    EXPECT_TRUE(validate_network_config("lxmbr0", {{"ipv4.address", "10.1.2.1/24"}, {"ipv4.nat", "true"},
                                                   {"ipv4.dhcp.ranges", "10.1.2.100-10.1.2.150,10.1.2.200-10.1.2.210"},
                                                   {"dns.domain", "lxd.example"}, {"bridge.mtu", "9000"},
                                                   {"user.note", "anything"}}));
    EXPECT_TRUE(validate_network_config("lxmbr0", {{"ipv6.address", "fd42:1:2:3::1/64"}, {"ipv6.nat", "false"}}));

    EXPECT_FALSE(validate_network_config("this-name-is-too-long", {}));
    EXPECT_FALSE(validate_network_config("br/0", {}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv4.bogus", "1"}}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv4.nat", "maybe"}}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv4.address", "10.1.2.0/24"}})) << "network address";
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv4.address", "10.1.2.255/24"}})) << "broadcast";
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv4.address", "10.1.2.1/31"}}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv4.address", "10.1.2.1"}}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv6.address", "fd42::1/48"}}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"bridge.mtu", "60"}}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"bridge.mtu", "15x"}}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"dns.domain", "bad_domain"}}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv4.address", "10.1.2.1/24"},
                                                    {"ipv4.dhcp.ranges", "10.1.3.1-10.1.3.9"}}))
        << "range outside the subnet";
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv4.dhcp.ranges", "10.1.2.9-10.1.2.1"}}));
    EXPECT_FALSE(validate_network_config("lxmbr0", {{"ipv4.dhcp.ranges", "10.1.2.9"}}));
}

TEST(NetdNetworkConfig, NicAllocationNetLink) {
    NicAllocation a;
    a.peer = "lxp0123456789ab";
    a.inside_name = "eth0";
    EXPECT_EQ(a.net_link(), "lxp0123456789ab=eth0");
}
