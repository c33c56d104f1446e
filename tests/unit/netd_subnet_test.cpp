// netd subnet choice: parsing, overlap, and the pure choosers on given route and
// address lists; plus one real (unprivileged) read of this namespace's routes.
#include <gtest/gtest.h>

#include <set>

#include "netd/subnet.hpp"

using namespace lxm::netd;

namespace {
Ipv4Net v4(const char* s) { return parse_ipv4_cidr(s).value(); }
Ipv6Net v6(const char* s) { return parse_ipv6_cidr(s).value(); }
}  // namespace

TEST(NetdSubnet, ParseAndFormat) {
    auto n = v4("10.1.2.1/24");
    EXPECT_EQ(to_string(n), "10.1.2.1/24");
    EXPECT_EQ(to_string(n.network()), "10.1.2.0/24");
    EXPECT_FALSE(parse_ipv4_cidr("10.1.2.1").has_value());
    EXPECT_EQ(to_string(parse_ipv4_cidr("10.1.2.1", 32).value()), "10.1.2.1/32");
    EXPECT_FALSE(parse_ipv4_cidr("10.1.2.1/33").has_value());
    EXPECT_FALSE(parse_ipv4_cidr("10.1.2/24").has_value());
    EXPECT_FALSE(parse_ipv4_cidr("10.1.2.1/").has_value());
    EXPECT_EQ(to_string(v6("fd42:1:2:3::1/64").network()), "fd42:1:2:3::/64");
    EXPECT_FALSE(parse_ipv6_cidr("fd42::g/64").has_value());
}

TEST(NetdSubnet, Overlap) {
    EXPECT_TRUE(overlaps(v4("10.0.0.0/8"), v4("10.5.6.0/24")));
    EXPECT_TRUE(overlaps(v4("10.5.6.0/24"), v4("10.0.0.0/8")));
    EXPECT_TRUE(overlaps(v4("10.5.6.7/32"), v4("10.5.6.0/24")));
    EXPECT_FALSE(overlaps(v4("10.5.7.0/24"), v4("10.5.6.0/24")));
    EXPECT_TRUE(overlaps(v6("fd42:1::/32"), v6("fd42:1:2:3::/64")));
    EXPECT_FALSE(overlaps(v6("fd42:1:2:4::/64"), v6("fd42:1:2:3::/64")));
}

TEST(NetdSubnet, ChoiceIsDeterministicAndSpread) {
    std::vector<Ipv4Net> none;
    auto a = choose_ipv4_subnet(none, "lxmbr0");
    auto b = choose_ipv4_subnet(none, "lxmbr0");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    EXPECT_EQ(a->prefix, 24);
    EXPECT_EQ(a->addr >> 24, 10u);
    EXPECT_EQ(a->addr & 0xff, 0u);
    std::set<uint32_t> seen;
    for (int i = 0; i < 50; ++i) seen.insert(choose_ipv4_subnet(none, "net" + std::to_string(i))->addr);
    EXPECT_GE(seen.size(), 45u) << "different seeds should mostly land on different subnets";
}

TEST(NetdSubnet, ChoiceAvoidsRoutesAndAddresses) {
    auto first = *choose_ipv4_subnet({}, "lxmbr0");
    // The first choice is taken by an address: the next one must differ and not overlap.
    std::vector<Ipv4Net> used{v4("0.0.0.0/0"), v4("192.168.1.0/24"), Ipv4Net{first.addr | 5, 32}};
    auto second = choose_ipv4_subnet(used, "lxmbr0");
    ASSERT_TRUE(second);
    EXPECT_NE(*second, first);
    for (const auto& u : used)
        if (u.prefix) {
            EXPECT_FALSE(overlaps(*second, u)) << to_string(u);
        }
    // The default route does not block anything; a covering /8 blocks everything.
    EXPECT_TRUE(choose_ipv4_subnet({v4("0.0.0.0/0")}, "x"));
    EXPECT_FALSE(choose_ipv4_subnet({v4("10.0.0.0/8")}, "x"));
    // Two /9 halves likewise leave nothing.
    EXPECT_FALSE(choose_ipv4_subnet({v4("10.0.0.0/9"), v4("10.128.0.0/9")}, "x"));
    // Only one /24 left free (besides the reserved edges): it is found.
    std::vector<Ipv4Net> almost{v4("10.0.0.0/9"), v4("10.128.0.0/10"), v4("10.192.0.0/11"),
                                v4("10.224.0.0/12"), v4("10.240.0.0/13"), v4("10.248.0.0/14"),
                                v4("10.252.0.0/15"), v4("10.254.0.0/16"), v4("10.255.0.0/17"),
                                v4("10.255.128.0/18"), v4("10.255.192.0/19"), v4("10.255.224.0/20"),
                                v4("10.255.240.0/21"), v4("10.255.248.0/22"), v4("10.255.252.0/23"),
                                v4("10.255.255.0/24")};
    auto last = choose_ipv4_subnet(almost, "y");
    ASSERT_TRUE(last);
    EXPECT_EQ(to_string(*last), "10.255.254.0/24");
}

TEST(NetdSubnet, Ipv6Ula) {
    auto a = choose_ipv6_subnet({}, "lxmbr0");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->prefix, 64);
    EXPECT_EQ(a->addr[0], 0xfd);
    EXPECT_EQ(a->addr[1], 0x42);
    EXPECT_EQ(*a, *choose_ipv6_subnet({}, "lxmbr0"));
    auto b = choose_ipv6_subnet({*a}, "lxmbr0");
    ASSERT_TRUE(b);
    EXPECT_FALSE(overlaps(*a, *b));
    EXPECT_FALSE(choose_ipv6_subnet({v6("fd00::/8")}, "z"));
}

TEST(NetdSubnet, RealReadFromKernel) {
    auto used = read_used_networks();
    ASSERT_TRUE(used) << used.error().message();
    // Loopback's 127.0.0.1/8 is in every network namespace that has lo up; the
    // host namespace always does.
    bool loopback = false;
    for (const auto& n : used->v4) {
        EXPECT_NE(n.prefix, 0) << "default routes are left out";
        if (overlaps(n, v4("127.0.0.1/32"))) loopback = true;
    }
    EXPECT_TRUE(loopback);
    auto pick = choose_ipv4_subnet(used->v4, "lxmbr0");
    ASSERT_TRUE(pick);
    for (const auto& n : used->v4) EXPECT_FALSE(overlaps(*pick, n)) << to_string(n);
}
