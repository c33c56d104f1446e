// netd nft on the real kernel, in a private network namespace of a forked child
// (the host ruleset is never touched); tables are named lxmt_<pid>.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
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
            if (e.find("\"dnat\":") != std::string::npos) ++dnat;
        }
        NETNS_CHECK(chains == 6);
        NETNS_CHECK(masq == 4);  // v4 and v6 nat, hairpin, the wildcard forward's loopback source
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
        NETNS_CHECK(rules == before - 6);  // 4 dnat, 1 loopback masquerade, the v6 nat

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
        // A new network namespace copies the host's forwarding setting: start from off.
        NETNS_OK(base::write_file("/proc/sys/net/ipv4/ip_forward", "0\n"));
        NETNS_OK(base::write_file("/proc/sys/net/ipv6/conf/all/forwarding", "0\n"));
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

namespace {

// Connect with timeouts and read what the server says first.
std::string fetch_banner(const std::string& ip, uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "socket failed";
    timeval tv{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        out = std::string("connect: ") + std::strerror(errno);
    } else {
        char buf[64];
        ssize_t n = ::read(fd, buf, sizeof buf);
        out = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("read: ") + std::strerror(errno);
    }
    ::close(fd);
    return out;
}

}  // namespace

// Real traffic through the DNAT rules: a server in a "container" netns behind a
// bridge answers on the host's 127.0.0.1 (loopback listen), on the wildcard
// listen via 127.0.0.1, and on the bridge address. All inside a private netns.
TEST(NetdNftPriv, PortForwardTraffic) {
    LXM_REQUIRE_ROOT();
    auto err = run_in_private_netns([]() -> std::string {
        NETNS_OK(set_link_up("lo"));
        NETNS_OK(create_bridge("lxmt-br2"));
        NETNS_OK(add_address("lxmt-br2", "10.95.4.1/24"));
        NETNS_OK(set_link_up("lxmt-br2"));
        NETNS_OK(enable_route_localnet("lxmt-br2"));
        NETNS_OK(create_veth("lxmt-h4", "lxmt-p4"));
        NETNS_OK(set_master("lxmt-h4", "lxmt-br2"));
        NETNS_OK(set_link_up("lxmt-h4"));

        int ready[2], go[2], listening[2];
        NETNS_CHECK(::pipe2(ready, O_CLOEXEC) == 0 && ::pipe2(go, O_CLOEXEC) == 0 && ::pipe2(listening, O_CLOEXEC) == 0);
        pid_t srv = ::fork();
        NETNS_CHECK(srv >= 0);
        if (srv == 0) {
            // The container: own netns, eth0 moved in by the parent, a TCP server on :80.
            if (::unshare(CLONE_NEWNET) != 0) ::_exit(10);
            char c = 'r';
            if (::write(ready[1], &c, 1) != 1 || ::read(go[0], &c, 1) != 1) ::_exit(11);
            if (!set_link_up("lo") || !add_address("eth0", "10.95.4.20/24")) ::_exit(12);
            int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            int one = 1;
            ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            sockaddr_in sa{};
            sa.sin_family = AF_INET;
            sa.sin_port = htons(80);
            if (::bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(ls, 8) != 0) ::_exit(13);
            if (::write(listening[1], &c, 1) != 1) ::_exit(14);
            for (;;) {
                int cfd = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
                if (cfd < 0) continue;
                (void)!::write(cfd, "hello\n", 6);
                ::close(cfd);
            }
        }
        ::close(ready[1]);
        ::close(go[0]);
        ::close(listening[1]);
        struct KillSrv {
            pid_t pid;
            ~KillSrv() {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
            }
        } kill_srv{srv};
        char c;
        NETNS_CHECK(::read(ready[0], &c, 1) == 1);
        NETNS_OK(move_link_to_netns("lxmt-p4", srv, "eth0"));
        NETNS_CHECK(::write(go[1], "g", 1) == 1);
        NETNS_CHECK(::read(listening[0], &c, 1) == 1);

        NftConfig cfg;
        cfg.table = table_name();
        NftBridge b;
        b.bridge = "lxmt-br2";
        b.ipv4_subnet = "10.95.4.0/24";
        cfg.bridges.push_back(b);
        NftForward f;
        f.listen_port = 18080;  // wildcard
        f.target_address = "10.95.4.20";
        f.target_port = 80;
        cfg.forwards.push_back(f);
        f.listen_address = "127.0.0.1";
        f.listen_port = 18081;
        cfg.forwards.push_back(f);
        NETNS_OK(nft_apply(cfg));

        // Direct first (the path works), then through each forward.
        std::string direct = fetch_banner("10.95.4.20", 80);
        if (direct != "hello\n") return "direct: " + direct;
        std::string lo = fetch_banner("127.0.0.1", 18081);
        std::string wild_lo = fetch_banner("127.0.0.1", 18080);
        std::string wild_br = fetch_banner("10.95.4.1", 18080);
        std::string none = fetch_banner("127.0.0.1", 18082);
        NETNS_OK(nft_delete_table(cfg.table));
        std::string after = fetch_banner("127.0.0.1", 18081);
        NETNS_OK(delete_link_if_exists("lxmt-h4"));
        NETNS_OK(delete_link("lxmt-br2"));
        if (lo != "hello\n") return "127.0.0.1:18081 → " + lo;
        if (wild_lo != "hello\n") return "127.0.0.1:18080 → " + wild_lo;
        if (wild_br != "hello\n") return "10.95.4.1:18080 → " + wild_br;
        NETNS_CHECK(none != "hello\n");
        NETNS_CHECK(after != "hello\n");
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
