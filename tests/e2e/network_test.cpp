// e2e: managed networking through the real lxmd. A per-process default network
// (bridge lxmt<pid>), two Debian containers that boot with systemd-networkd and
// get DHCP leases from the network's dnsmasq, see their IPv4 in the instance
// state, reach the host bridge address (a TCP listener of this test) and each
// other by name (<name>.lxm via systemd-resolved and dnsmasq), and after
// deleting everything no link, nft table or dnsmasq of the test is left.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "lxm/base/spawn.hpp"
#include "tests/e2e/daemon_fixture.hpp"

namespace lxm::test {
namespace {

bool link_exists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

// Output of a host command (empty on failure).
std::string host_output(const std::vector<std::string>& argv) {
    base::SpawnOptions o;
    o.argv = argv;
    o.timeout = std::chrono::seconds(20);
    auto r = base::spawn_capture(o);
    return r ? r->out : std::string();
}

std::string launch_debian(client::Client& c, const std::string& name) {
    auto r = c.post("/1.0/instances",
                    json{{"name", name}, {"source", {{"type", "image"}, {"alias", "debian/12"}}}});
    if (!r) return apitypes::user_message(r.error());
    auto op = c.wait_success(r->operation);
    if (!op) return apitypes::user_message(op.error());
    return change_state(c, name, "start");
}

// The IPv4 of eth0 in the instance state, "" when none (yet).
std::string state_ipv4(client::Client& c, const std::string& name) {
    auto r = c.get("/1.0/instances/" + name + "/state");
    if (!r || !r->is_object()) return {};
    const json& net = (*r)["network"];
    if (!net.is_object() || !net.contains("eth0")) return {};
    for (const auto& a : net["eth0"]["addresses"])
        if (a.value("family", "") == "inet") return a.value("address", "");
    return {};
}

class NetworkTest : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        if (!base::path_exists(bin("lxmd"))) GTEST_SKIP() << "lxmd not built";
        if (host_output({"sh", "-c", "command -v dnsmasq"}).empty()) GTEST_SKIP() << "dnsmasq not installed";
        net_ = "lxmt" + std::to_string(::getpid() % 100000);
        std::string why;
        ASSERT_TRUE(d_.start({"--default-network", net_, "--nft-table", net_}, &why)) << why;
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
    }
    void TearDown() override {
        if (!c_) return;
        for (const auto& n : names_) {
            (void)change_state(*c_, n, "stop", true);
            if (auto r = c_->del("/1.0/instances/" + n); r) (void)c_->wait_operation(r->operation, 60);
        }
        // The default profile's nic refers to the network: drop it, then the network.
        (void)c_->put("/1.0/profiles/default", json{{"config", json::object()}, {"devices", json::object()}});
        (void)c_->del("/1.0/networks/" + net_);
        d_.kill_containers();
        d_.stop(SIGTERM);
        // Last resort, by name of this test's own bridge (never anything else).
        if (link_exists(net_)) (void)host_output({"ip", "link", "del", net_});
    }

    Lxmd d_;
    std::optional<client::Client> c_;
    std::string net_;
    std::vector<std::string> names_;
};

TEST_F(NetworkTest, TwoDebianContainersGetLeasesAndReachEachOther) {
    auto& c = *c_;
    // The default network exists, is up, and the default profile has eth0 on it.
    auto n = c.get("/1.0/networks/" + net_);
    ASSERT_TRUE(n) << apitypes::user_message(n.error()) << d_.log();
    ASSERT_TRUE(link_exists(net_));
    std::string cidr = (*n)["config"].value("ipv4.address", "");
    ASSERT_NE(cidr.find('/'), std::string::npos) << n->dump();
    std::string host_ip = cidr.substr(0, cidr.find('/'));
    auto p = c.get("/1.0/profiles/default");
    ASSERT_TRUE(p);
    EXPECT_EQ((*p)["devices"]["eth0"].value("network", ""), net_) << p->dump();
    auto srv = c.get("/1.0");
    ASSERT_TRUE(srv);
    auto ext = (*srv)["api_extensions"];
    EXPECT_NE(std::find(ext.begin(), ext.end(), "network_leases"), ext.end());

    const std::string a = Lxmd::name("net-a"), b = Lxmd::name("net-b");
    for (const auto& nm : {a, b}) {
        names_.push_back(nm);
        ASSERT_EQ(launch_debian(c, nm), "") << d_.log();
    }
    for (const auto& nm : {a, b})
        EXPECT_EQ(exec_code(c, nm, {"sh", "-c", "for i in $(seq 300); do [ -S /run/systemd/private ] && exit 0; sleep 0.1; done; exit 1"}), 0);

    // DHCP through the containers' own systemd-networkd: a lease each and an IPv4 in state.
    std::map<std::string, std::string> ip;
    for (int i = 0; i < 300 && ip.size() < 2; ++i) {
        for (const auto& nm : {a, b})
            if (!ip.count(nm))
                if (auto v = state_ipv4(c, nm); !v.empty()) ip[nm] = v;
        if (ip.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ASSERT_EQ(ip.size(), 2u) << d_.log();
    auto leases = c.get("/1.0/networks/" + net_ + "/leases");
    ASSERT_TRUE(leases) << apitypes::user_message(leases.error());
    for (const auto& nm : {a, b}) {
        bool found = false;
        for (const auto& l : *leases) found |= l.value("address", "") == ip[nm];
        EXPECT_TRUE(found) << nm << " " << ip[nm] << " not in " << leases->dump();
    }

    // Container -> host bridge address: a TCP listener of this test on the bridge address.
    int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(ls, 0);
    base::UniqueFd lfd(ls);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ASSERT_EQ(::inet_pton(AF_INET, host_ip.c_str(), &sa.sin_addr), 1);
    ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
    ASSERT_EQ(::listen(ls, 4), 0);
    socklen_t sl = sizeof sa;
    ::getsockname(ls, reinterpret_cast<sockaddr*>(&sa), &sl);
    std::string port = std::to_string(ntohs(sa.sin_port));
    EXPECT_EQ(exec_code(c, a, {"bash", "-c", "echo hello-" + a + " > /dev/tcp/" + host_ip + "/" + port}), 0);
    pollfd pf{ls, POLLIN, 0};
    ASSERT_EQ(::poll(&pf, 1, 5000), 1);
    base::UniqueFd conn(::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(conn);
    char buf[128] = {};
    pollfd cf{conn.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&cf, 1, 5000), 1);
    ssize_t got = ::read(conn.get(), buf, sizeof buf - 1);
    EXPECT_EQ(std::string(buf, got > 0 ? static_cast<size_t>(got) : 0), "hello-" + a + "\n");

    // Container -> container by name: <b>.lxm resolves to b's address (dnsmasq through
    // systemd-resolved), and b's kernel answers a TCP connect (refused: no listener
    // on port 9 — an answer, where an unreachable peer would time out).
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "getent hosts " + b + ".lxm | grep -qw " + ip[b]}), 0)
        << "resolve " << b << ".lxm";
    EXPECT_EQ(exec_code(c, a, {"bash", "-c",
                               "out=$(timeout 5 bash -c 'echo x > /dev/tcp/" + ip[b] + "/9' 2>&1); "
                               "echo \"$out\" | grep -q 'Connection refused'"}),
              0);
    // And the neighbour entry of b in a's table is a real MAC (ARP answered).
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "ip neigh show " + ip[b] + " | grep -q lladdr"}), 0);

    // Teardown: instances deleted, their host veths gone; the network deleted: bridge,
    // nft table and dnsmasq gone.
    for (const auto& nm : {a, b}) {
        ASSERT_EQ(change_state(c, nm, "stop", true), "");
        auto r = c.del("/1.0/instances/" + nm);
        ASSERT_TRUE(r) << apitypes::user_message(r.error());
        ASSERT_TRUE(c.wait_success(r->operation));
    }
    names_.clear();
    auto dp = c.put("/1.0/profiles/default", json{{"config", json::object()}, {"devices", json::object()}});
    ASSERT_TRUE(dp) << apitypes::user_message(dp.error());
    auto dn = c.del("/1.0/networks/" + net_);
    ASSERT_TRUE(dn) << apitypes::user_message(dn.error());
    EXPECT_FALSE(link_exists(net_));
    std::string links = host_output({"ip", "-o", "link"});
    EXPECT_EQ(links.find(net_), std::string::npos) << links;
    std::string procs = host_output({"ps", "-eo", "args"});
    EXPECT_EQ(procs.find("interface=" + net_), std::string::npos) << procs;
    EXPECT_EQ(procs.find(d_.state() + "/networks"), std::string::npos) << procs;
    std::string rules = host_output({"nft", "list", "tables"});
    EXPECT_EQ(rules.find(net_), std::string::npos) << rules;
    rules = host_output({"nft", "list", "ruleset"});
    EXPECT_EQ(rules.find(net_), std::string::npos) << rules;
}

}  // namespace
}  // namespace lxm::test
