// netd nft on the real kernel, in a private network namespace of a forked child
// (the host ruleset is never touched); tables are named lxmt_<pid>.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "lxm/base/file.hpp"
#include "netd/link.hpp"
#include "netd/nft.hpp"
#include "tests/priv/netd_netns_util.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm;
using namespace lxm::netd;
using lxm::test::run_in_private_netns;

namespace {

std::string table_name() { return "lxmt_" + std::to_string(::getpid()); }

}  // namespace

TEST(NetdNftPriv, ApplyReadBackReplaceDelete) {
    LXM_REQUIRE_ROOT();
    auto err = run_in_private_netns([]() -> std::string {
        NETNS_OK(create_bridge("lxmt-br0"));
        NftConfig cfg;
        cfg.table = table_name();
        NftBridge b;
        b.bridge = "lxmt-br0";
        b.ipv4_subnet = "10.98.7.1/24";
        b.ipv4_nat = true;
        b.ipv6_subnet = "fd42:98:7:1::1/64";
        b.ipv6_nat = true;
        cfg.bridges.push_back(b);
        NftForward f;
        f.listen_port = 18080;
        f.target_address = "10.98.7.5";
        f.target_port = 80;
        cfg.forwards.push_back(f);
        f.listen_address = "10.98.7.1";
        f.listen_port = 18081;
        f.target_port = 81;
        cfg.forwards.push_back(f);
        NETNS_OK(nft_apply(cfg));
        NETNS_OK(nft_apply(cfg));  // idempotent: replaced, not duplicated

        auto json = nft_list_table_json(cfg.table);
        NETNS_OK(json);
        auto doc = nlohmann::json::parse(*json, nullptr, false);
        NETNS_CHECK(!doc.is_discarded() && doc.contains("nftables"));
        int chains = 0, rules = 0, masq = 0, dnat = 0;
        for (auto& it : doc["nftables"]) {
            if (it.contains("chain")) ++chains;
            if (!it.contains("rule")) continue;
            ++rules;
            std::string e = it["rule"]["expr"].dump();
            if (e.find("\"masquerade\"") != std::string::npos) ++masq;
            if (e.find("\"dnat\"") != std::string::npos) ++dnat;
        }
        NETNS_CHECK(chains == 5);
        NETNS_CHECK(masq == 2);  // v4 and v6
        NETNS_CHECK(dnat == 4);  // two forwards x (prerouting, output)
        int before = rules;

        // Replace with a smaller config: the old rules are gone in the same transaction.
        cfg.forwards.clear();
        cfg.bridges[0].ipv6_nat = false;
        NETNS_OK(nft_apply(cfg));
        json = nft_list_table_json(cfg.table);
        NETNS_OK(json);
        doc = nlohmann::json::parse(*json);
        rules = 0;
        for (auto& it : doc["nftables"])
            if (it.contains("rule")) ++rules;
        NETNS_CHECK(rules == before - 5);

        // A host-style forward drop policy in another table is detected; ours is not blamed.
        NETNS_OK(detect_forward_drop(cfg.table));
        auto none = detect_forward_drop(cfg.table);
        NETNS_CHECK(!none->has_value());
        NETNS_OK(nft_run("add table ip lxmt_fw\nadd chain ip lxmt_fw FORWARD { type filter hook forward priority 0; policy drop; }\n"));
        auto found = detect_forward_drop(cfg.table);
        NETNS_OK(found);
        NETNS_CHECK(found->has_value() && (*found)->find("ip lxmt_fw FORWARD") != std::string::npos);
        NETNS_OK(nft_run("delete table ip lxmt_fw\n"));

        // A syntax error is reported with nft's message, and changes nothing.
        auto bad = nft_run("add table inet " + cfg.table + "\nadd chain inet " + cfg.table + " fwd\n");
        NETNS_CHECK(!bad && bad.error().message().find("syntax error") != std::string::npos);

        NETNS_OK(nft_delete_table(cfg.table));
        NETNS_OK(nft_delete_table(cfg.table));  // absent is fine
        auto gone = nft_list_table_json(cfg.table);
        NETNS_CHECK(!gone);
        NETNS_OK(delete_link("lxmt-br0"));
        return "";
    });
    EXPECT_EQ(err, "");
}

TEST(NetdNftPriv, EnableIpForwardInPrivateNetns) {
    LXM_REQUIRE_ROOT();
    auto err = run_in_private_netns([]() -> std::string {
        // A new network namespace starts with forwarding off.
        auto cur = base::read_file("/proc/sys/net/ipv4/ip_forward");
        NETNS_OK(cur);
        NETNS_CHECK(cur->rfind("0", 0) == 0);
        auto changed = enable_ip_forward(true);
        NETNS_OK(changed);
        NETNS_CHECK(*changed);
        cur = base::read_file("/proc/sys/net/ipv4/ip_forward");
        NETNS_CHECK(cur && cur->rfind("1", 0) == 0);
        auto v6 = base::read_file("/proc/sys/net/ipv6/conf/all/forwarding");
        NETNS_CHECK(v6 && v6->rfind("1", 0) == 0);
        changed = enable_ip_forward(true);
        NETNS_OK(changed);
        NETNS_CHECK(!*changed);
        return "";
    });
    EXPECT_EQ(err, "");
}

TEST(NetdNftPriv, ZzNoTestTableOnHost) {
    LXM_REQUIRE_ROOT();
    auto r = nft_run("list tables", false);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->find("lxmt_"), std::string::npos) << *r;
}
