// netd nft: the generated ruleset text and the forward-drop detector on given JSON.
#include <gtest/gtest.h>

#include "netd/nft.hpp"

using namespace lxm::netd;

namespace {
NftBridge bridge(std::string name, std::string v4 = {}, bool nat4 = false, std::string v6 = {}, bool nat6 = false) {
    NftBridge b;
    b.bridge = std::move(name);
    b.ipv4_subnet = std::move(v4);
    b.ipv4_nat = nat4;
    b.ipv6_subnet = std::move(v6);
    b.ipv6_nat = nat6;
    return b;
}
NftForward fwd(std::string proto, std::string listen, uint16_t lport, std::string target, uint16_t tport) {
    NftForward f;
    f.proto = std::move(proto);
    f.listen_address = std::move(listen);
    f.listen_port = lport;
    f.target_address = std::move(target);
    f.target_port = tport;
    return f;
}
bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
}  // namespace

TEST(NetdNft, RenderBridgesAndForwards) {
    NftConfig cfg;
    cfg.table = "lxmt_1";
    cfg.bridges.push_back(bridge("lxmbr0", "10.1.2.1/24", true, "fd42:1:2:3::1/64", false));
    cfg.forwards.push_back(fwd("tcp", "", 8080, "10.1.2.5", 80));
    cfg.forwards.push_back(fwd("udp", "192.0.2.7", 53, "10.1.2.6", 5353));
    auto r = render_ruleset(cfg);
    ASSERT_TRUE(r) << r.error().message();
    const std::string& t = *r;
    // Replace-in-one-transaction prologue.
    EXPECT_EQ(t.rfind("add table inet lxmt_1\ndelete table inet lxmt_1\ntable inet lxmt_1 {", 0), 0u) << t;
    EXPECT_TRUE(has(t, "ip saddr 10.1.2.0/24 ip daddr != 10.1.2.0/24 masquerade")) << t;
    EXPECT_FALSE(has(t, "ip6 saddr fd42:1:2:3::/64 ip6 daddr")) << "ipv6.nat is off";
    EXPECT_TRUE(has(t, "iifname \"lxmbr0\" accept"));
    EXPECT_TRUE(has(t, "oifname \"lxmbr0\" accept"));
    EXPECT_TRUE(has(t, "iifname \"lxmbr0\" udp dport { 53, 67 } accept"));
    EXPECT_TRUE(has(t, "iifname \"lxmbr0\" udp dport 547 accept"));
    EXPECT_TRUE(has(t, "fib daddr type local ip daddr != 127.0.0.0/8 tcp dport 8080 dnat ip to 10.1.2.5:80"));
    EXPECT_TRUE(has(t, "ip daddr 192.0.2.7 udp dport 53 dnat ip to 10.1.2.6:5353"));
    // From the host itself the wildcard includes loopback, with the 127/8 source masqueraded.
    EXPECT_TRUE(has(t, "    meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.1.2.5:80"));
    EXPECT_TRUE(has(t, "ip saddr 127.0.0.0/8 ip daddr 10.1.2.5 tcp dport 80 masquerade"));
    EXPECT_FALSE(has(t, "ip daddr 10.1.2.6 udp dport 5353 masquerade")) << "not a loopback forward";
    // Containers get no path to 127/8 through a bridge; hairpin forwards are masqueraded.
    EXPECT_TRUE(has(t, "iifname \"lxmbr0\" ip daddr 127.0.0.0/8 drop"));
    EXPECT_TRUE(has(t, "iifname \"lxmbr0\" ip saddr 127.0.0.0/8 drop"));
    EXPECT_TRUE(has(t, "iifname \"lxmbr0\" oifname \"lxmbr0\" ct status dnat masquerade"));
}

TEST(NetdNft, LoopbackListenOnlyInOutput) {
    NftConfig cfg;
    cfg.forwards.push_back(fwd("tcp", "127.0.0.1", 8081, "10.1.2.5", 80));
    auto r = render_ruleset(cfg);
    ASSERT_TRUE(r) << r.error().message();
    auto pre = r->find("chain prerouting");
    auto out = r->find("chain output");
    auto rule = r->find("ip daddr 127.0.0.1 tcp dport 8081 dnat ip to 10.1.2.5:80");
    ASSERT_NE(rule, std::string::npos) << *r;
    EXPECT_GT(rule, out) << "only in output";
    EXPECT_EQ(r->find("ip daddr 127.0.0.1", pre), rule);
    EXPECT_TRUE(has(*r, "ip saddr 127.0.0.0/8 ip daddr 10.1.2.5 tcp dport 80 masquerade"));
}

TEST(NetdNft, RenderRejectsBadInput) {
    NftConfig cfg;
    cfg.table = "bad table";
    EXPECT_FALSE(render_ruleset(cfg));
    cfg.table = "lxm";
    cfg.bridges.push_back(bridge("br\"0"));
    EXPECT_FALSE(render_ruleset(cfg));
    cfg.bridges = {bridge("lxmbr0", "10.1.2.1")};
    EXPECT_FALSE(render_ruleset(cfg)) << "subnet needs a prefix";
    cfg.bridges.clear();
    cfg.forwards = {fwd("sctp", "", 1, "10.0.0.1", 1)};
    EXPECT_FALSE(render_ruleset(cfg));
    cfg.forwards = {fwd("tcp", "::1", 1, "fd00::1", 1)};
    EXPECT_FALSE(render_ruleset(cfg)) << "IPv6 loopback cannot be DNATed";
    cfg.forwards = {fwd("tcp", "fd00::1", 1, "10.0.0.1", 1)};
    EXPECT_FALSE(render_ruleset(cfg)) << "mixed families";
    cfg.forwards = {fwd("tcp", "", 1, "10.0.0.1; drop", 1)};
    EXPECT_FALSE(render_ruleset(cfg)) << "injection";
}

TEST(NetdNft, FindForwardDrop) {
    const std::string clean = R"({"nftables":[{"metainfo":{}},
      {"table":{"family":"inet","name":"lxm"}},
      {"chain":{"family":"inet","table":"lxm","name":"fwd","hook":"forward","type":"filter","policy":"drop"}},
      {"chain":{"family":"ip","table":"filter","name":"INPUT","hook":"input","type":"filter","policy":"drop"}}]})";
    EXPECT_FALSE(find_forward_drop(clean, "lxm")) << "our own table and input chains do not count";
    const std::string docker = R"({"nftables":[
      {"chain":{"family":"ip","table":"filter","name":"FORWARD","hook":"forward","type":"filter","policy":"drop"}}]})";
    auto w = find_forward_drop(docker, "lxm");
    ASSERT_TRUE(w);
    EXPECT_TRUE(has(*w, "ip filter FORWARD")) << *w;
    const std::string rule = R"({"nftables":[
      {"chain":{"family":"inet","table":"fw","name":"f","hook":"forward","type":"filter","policy":"accept"}},
      {"rule":{"family":"inet","table":"fw","chain":"f","expr":[{"drop":null}]}}]})";
    ASSERT_TRUE(find_forward_drop(rule, "lxm"));
    const std::string cond = R"({"nftables":[
      {"chain":{"family":"inet","table":"fw","name":"f","hook":"forward","type":"filter","policy":"accept"}},
      {"rule":{"family":"inet","table":"fw","chain":"f","expr":[{"match":{}},{"drop":null}]}}]})";
    EXPECT_FALSE(find_forward_drop(cond, "lxm")) << "a conditional drop is not reported";
    EXPECT_FALSE(find_forward_drop("not json", "lxm"));
    // The real nft prints a syntax error as a failure, not a crash or a silent success.
}

TEST(NetdNft, RenderedTextParsesWithoutKernel) {
    // libnftables dry-run checks syntax only when the kernel answers; keep to the text here.
    NftConfig cfg;
    cfg.bridges.push_back(bridge("lxmbr0", "10.1.2.1/24", true));
    auto r = render_ruleset(cfg);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "chain output { type nat hook output priority -100;"));
}

TEST(NetdNft, BridgesAreIsolatedUnlessRouted) {
    NftConfig cfg;
    cfg.table = "lxmt_2";
    cfg.bridges.push_back(bridge("br-a", "10.1.2.1/24"));
    cfg.bridges.push_back(bridge("br-b", "10.1.3.1/24"));
    cfg.bridges.push_back(bridge("br-c", "10.1.4.1/24"));
    auto r = render_ruleset(cfg);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(has(*r, "iifname \"br-a\" oifname { \"br-b\", \"br-c\" } drop")) << *r;
    EXPECT_TRUE(has(*r, "iifname \"br-c\" oifname { \"br-a\", \"br-b\" } drop")) << *r;
    // The drops come before the accepts of the forward chain.
    EXPECT_LT(r->find("oifname { \"br-b\", \"br-c\" } drop"), r->find("iifname \"br-a\" accept")) << *r;
    // a lists b: a<->b forwarded both ways, c stays isolated from both.
    cfg.bridges[0].routed = {"br-b"};
    r = render_ruleset(cfg);
    ASSERT_TRUE(r);
    EXPECT_TRUE(has(*r, "iifname \"br-a\" oifname { \"br-c\" } drop")) << *r;
    EXPECT_TRUE(has(*r, "iifname \"br-b\" oifname { \"br-c\" } drop")) << *r;
    EXPECT_TRUE(has(*r, "iifname \"br-c\" oifname { \"br-a\", \"br-b\" } drop")) << *r;
    // A single bridge has nothing to be isolated from.
    cfg.bridges.resize(1);
    r = render_ruleset(cfg);
    ASSERT_TRUE(r);
    EXPECT_FALSE(has(*r, "drop\n    iifname \"br-a\" accept")) << *r;
    EXPECT_FALSE(has(*r, "oifname {")) << *r;
}
