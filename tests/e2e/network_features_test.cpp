// e2e: the rest of lxm's managed networking through the real lxmd, with Debian
// containers and traffic only between the host, its bridges and the containers:
//   - a static ipv4.address on a nic, honoured across stop/start and a reboot
//     inside the container (the monitor starts init again in a fresh netns and
//     re-plugs the nic);
//   - proxy devices (nat=true, nft DNAT): a server inside reachable from the host's
//     127.0.0.1:PORT and from the bridge address, validation errors, a listen
//     conflict refused at start, a change applied to the running instance, the
//     forwards gone at stop;
//   - proxy devices with nat=false (lxm-proxy relays): a server bound only to the
//     container's 127.0.0.1 reachable from the host's 127.0.0.1:PORT; the relay
//     survives lxmd's kill -9 and is adopted (same pid) by the next lxmd, a killed
//     relay is started again, tcp on the host reaches a unix socket inside (the
//     container's mount namespace), removing the device or stopping the instance ends it;
//   - two networks isolate their containers (a TCP connect that times out where the
//     host gets an answer) unless one lists the other in routed.networks;
//   - dnsmasq killed: it comes back with the leases; lxmd stopped (SIGTERM) and
//     killed (SIGKILL): the containers keep talking while it is down and after;
//   - after deleting everything nothing of the test remains in links, nft or processes.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include "lxm/base/spawn.hpp"
#include "netd/link.hpp"
#include "netd/proxy_relay.hpp"
#include "tests/e2e/daemon_fixture.hpp"

namespace lxm::test {
namespace {

bool link_exists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

std::string host_output(const std::vector<std::string>& argv) {
    base::SpawnOptions o;
    o.argv = argv;
    o.timeout = std::chrono::seconds(20);
    auto r = base::spawn_capture(o);
    return r ? r->out : std::string();
}

// Connect from the host and read what the server says: the text, "refused",
// "timeout" or "error".
std::string host_fetch(const std::string& addr, int port, int timeout_ms = 3000) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) return "error";
    base::UniqueFd fd(s);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) return "error";
    if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS)
        return errno == ECONNREFUSED ? "refused" : "error";
    pollfd p{s, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return "timeout";
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == ECONNREFUSED) return "refused";
    if (err != 0) return "error";
    std::string out;
    char buf[256];
    for (;;) {
        pollfd r{s, POLLIN, 0};
        if (::poll(&r, 1, timeout_ms) != 1) break;
        ssize_t n = ::read(s, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// The same from a unix socket on the host.
std::string unix_fetch(const std::string& path, int timeout_ms = 3000) {
    int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return "error";
    base::UniqueFd fd(s);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) return "error";
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return errno == ECONNREFUSED ? "refused" : "error";
    std::string out;
    char buf[256];
    for (;;) {
        pollfd r{s, POLLIN, 0};
        if (::poll(&r, 1, timeout_ms) != 1) break;
        ssize_t n = ::read(s, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

std::string create_debian(client::Client& c, const std::string& name, const json& devices) {
    auto r = c.post("/1.0/instances", json{{"name", name},
                                           {"source", {{"type", "image"}, {"alias", "debian/12"}}},
                                           {"devices", devices}});
    if (!r) return apitypes::user_message(r.error());
    auto op = c.wait_success(r->operation);
    if (!op) return apitypes::user_message(op.error());
    return {};
}

bool wait_systemd(client::Client& c, const std::string& name) {
    return exec_code(c, name, {"sh", "-c", "for i in $(seq 600); do [ -S /run/systemd/private ] && exit 0; sleep 0.1; done; exit 1"}) == 0;
}

std::string state_ipv4(client::Client& c, const std::string& name) {
    auto r = c.get("/1.0/instances/" + name + "/state");
    if (!r || !r->is_object()) return {};
    const json& net = (*r)["network"];
    if (!net.is_object() || !net.contains("eth0")) return {};
    for (const auto& a : net["eth0"]["addresses"])
        if (a.value("family", "") == "inet") return a.value("address", "");
    return {};
}

// Wait up to 60 s for eth0's IPv4 (the given one when not empty).
std::string wait_ipv4(client::Client& c, const std::string& name, const std::string& want = {}) {
    std::string got;
    for (int i = 0; i < 300; ++i) {
        got = state_ipv4(c, name);
        if (!got.empty() && (want.empty() || got == want)) return got;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return got;
}

// A TCP server inside that answers every connection with text (a transient unit, so
// it outlives the exec).
int start_server(client::Client& c, const std::string& name, int port, const std::string& text) {
    return exec_code(c, name, {"systemd-run", "--unit", "lxmt-srv-" + std::to_string(port), "systemd-socket-activate",
                               "-l", std::to_string(port), "-a", "--inetd", "echo", text});
}

// From inside a container: "refused", "timeout" or "ok" for a TCP connect.
std::string inside_connect(client::Client& c, const std::string& name, const std::string& addr, int port) {
    std::string probe = "timeout 4 bash -c 'exec 3<>/dev/tcp/" + addr + "/" + std::to_string(port) + "' 2>&1";
    int rc = exec_code(c, name, {"bash", "-c", "out=$(" + probe + "); rc=$?; "
                                               "case \"$out\" in *refused*) exit 3;; esac; [ $rc = 124 ] && exit 4; exit $rc"});
    return rc == 0 ? "ok" : rc == 3 ? "refused" : rc == 4 ? "timeout" : "rc=" + std::to_string(rc);
}

std::string nft_table(const std::string& table) { return host_output({"nft", "list", "table", "inet", table}); }

class NetworkFeaturesTest : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        if (!base::path_exists(bin("lxmd"))) GTEST_SKIP() << "lxmd not built";
        if (host_output({"sh", "-c", "command -v dnsmasq"}).empty()) GTEST_SKIP() << "dnsmasq not installed";
        net_ = "lxmf" + std::to_string(::getpid() % 100000);
        args_ = {"--default-network", net_, "--nft-table", net_};
        std::string why;
        ASSERT_TRUE(d_.start(args_, &why)) << why;
        reconnect();
        auto n = c_->get("/1.0/networks/" + net_);
        ASSERT_TRUE(n) << d_.log();
        std::string cidr = (*n)["config"].value("ipv4.address", "");
        ASSERT_NE(cidr.find('/'), std::string::npos);
        bridge_ip_ = cidr.substr(0, cidr.find('/'));
        prefix_ = bridge_ip_.substr(0, bridge_ip_.rfind('.') + 1);
    }
    void reconnect() {
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
    }
    void TearDown() override {
        if (!c_) return;
        if (d_.pid() <= 0) (void)d_.start(args_);
        reconnect();
        for (const auto& n : names_) {
            (void)change_state(*c_, n, "stop", true);
            if (auto r = c_->del("/1.0/instances/" + n); r) (void)c_->wait_operation(r->operation, 60);
        }
        (void)c_->put("/1.0/profiles/default", json{{"config", json::object()}, {"devices", json::object()}});
        for (const auto& n : extra_nets_) (void)c_->del("/1.0/networks/" + n);
        (void)c_->del("/1.0/networks/" + net_);
        d_.kill_containers();
        d_.stop(SIGTERM);
        for (const auto& n : extra_nets_)
            if (link_exists(n)) (void)host_output({"ip", "link", "del", n});
        if (link_exists(net_)) (void)host_output({"ip", "link", "del", net_});
        (void)host_output({"nft", "delete", "table", "inet", net_});
    }

    // Delete every instance and network of the test and check nothing is left.
    void delete_all_and_check_clean() {
        std::vector<std::string> veths;
        for (const auto& n : names_) {
            veths.push_back(netd::host_veth_name(n, "eth0"));
            (void)change_state(*c_, n, "stop", true);  // some were never started
            auto r = c_->del("/1.0/instances/" + n);
            ASSERT_TRUE(r) << apitypes::user_message(r.error());
            ASSERT_TRUE(c_->wait_success(r->operation));
        }
        names_.clear();
        ASSERT_TRUE(c_->put("/1.0/profiles/default", json{{"config", json::object()}, {"devices", json::object()}}));
        for (const auto& n : extra_nets_) {
            auto r = c_->del("/1.0/networks/" + n);
            ASSERT_TRUE(r) << apitypes::user_message(r.error());
        }
        auto r = c_->del("/1.0/networks/" + net_);
        ASSERT_TRUE(r) << apitypes::user_message(r.error());
        std::string links = host_output({"ip", "-o", "link"});
        EXPECT_EQ(links.find(net_), std::string::npos) << links;
        for (const auto& v : veths) EXPECT_EQ(links.find(v), std::string::npos) << v << "\n" << links;
        std::string procs = host_output({"ps", "-eo", "args"});
        EXPECT_EQ(procs.find(d_.state() + "/networks"), std::string::npos) << procs;
        std::string rules = host_output({"nft", "list", "ruleset"});
        EXPECT_EQ(rules.find(net_), std::string::npos) << rules;
        extra_nets_.clear();
    }

    Lxmd d_;
    std::vector<std::string> args_;
    std::optional<client::Client> c_;
    std::string net_, bridge_ip_, prefix_;
    std::vector<std::string> names_, extra_nets_;
};

TEST_F(NetworkFeaturesTest, StaticAddressAndProxyDevicesAcrossRestarts) {
    auto& c = *c_;
    const std::string s = Lxmd::name("static");
    const std::string ip = prefix_ + "50";
    const int base = 20000 + ::getpid() % 20000;
    const int p_lo = base, p_any = base + 1, p_new = base + 2;
    json devices = {
        {"eth0", {{"type", "nic"}, {"network", net_}, {"name", "eth0"}, {"ipv4.address", ip}}},
        {"web-lo", {{"type", "proxy"}, {"listen", "tcp:127.0.0.1:" + std::to_string(p_lo)}, {"connect", "tcp:0.0.0.0:8080"}, {"nat", "true"}}},
        {"web-any", {{"type", "proxy"}, {"listen", "tcp:0.0.0.0:" + std::to_string(p_any)}, {"connect", "tcp:" + ip + ":8080"}, {"nat", "true"}}}};

    // Validation: clear 400s before anything is made.
    json bad = devices;
    bad["web-lo"]["connect"] = "tcp:127.0.0.1:8080";
    auto r = c.post("/1.0/instances", json{{"name", s}, {"source", {{"type", "image"}, {"alias", "debian/12"}}}, {"devices", bad}});
    ASSERT_FALSE(r);
    EXPECT_EQ(apitypes::http_status_of(r.error()), 400);
    EXPECT_NE(apitypes::user_message(r.error()).find("not loopback"), std::string::npos) << apitypes::user_message(r.error());
    bad = devices;
    bad["web-lo"]["listen"] = "tcp:127.0.0.1:99999";
    r = c.post("/1.0/instances", json{{"name", s}, {"source", {{"type", "image"}, {"alias", "debian/12"}}}, {"devices", bad}});
    ASSERT_FALSE(r);
    EXPECT_NE(apitypes::user_message(r.error()).find("port must be 1-65535"), std::string::npos) << apitypes::user_message(r.error());

    names_.push_back(s);
    ASSERT_EQ(create_debian(c, s, devices), "") << d_.log();
    ASSERT_EQ(change_state(c, s, "start"), "") << d_.log();
    ASSERT_TRUE(wait_systemd(c, s));
    ASSERT_EQ(wait_ipv4(c, s, ip), ip) << d_.log();
    ASSERT_EQ(start_server(c, s, 8080, "hello-" + s), 0);
    const std::string hello = "hello-" + s + "\n";
    auto fetch_until = [&](const std::string& addr, int port) {
        std::string got;
        for (int i = 0; i < 50; ++i) {  // the unit's socket may take a moment
            got = host_fetch(addr, port);
            if (got == hello) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return got;
    };
    EXPECT_EQ(fetch_until("127.0.0.1", p_lo), hello) << nft_table(net_);
    EXPECT_EQ(fetch_until(bridge_ip_, p_any), hello) << nft_table(net_);
    EXPECT_EQ(fetch_until("127.0.0.1", p_any), hello);
    // 127.0.0.1-only listen: not on the bridge address.
    EXPECT_NE(host_fetch(bridge_ip_, p_lo, 1000), hello);
    EXPECT_NE(nft_table(net_).find("dnat ip to " + ip + ":8080"), std::string::npos) << nft_table(net_);

    // Another instance that wants the same listen port cannot start.
    const std::string other = Lxmd::name("clash");
    names_.push_back(other);
    ASSERT_EQ(launch(c, other, false), "");
    auto put = c.put("/1.0/instances/" + other,
                     json{{"config", json::object()}, {"profiles", {"default"}},
                          {"devices", {{"web", devices["web-lo"]}}}});
    ASSERT_TRUE(put) << apitypes::user_message(put.error());
    std::string clash = change_state(c, other, "start");
    EXPECT_NE(clash.find("already forwarded by " + s + "/web-lo"), std::string::npos) << clash;

    // A change applies to the running instance: web-any moves to another port.
    auto cur = c.get("/1.0/instances/" + s);
    ASSERT_TRUE(cur);
    json w = {{"config", (*cur)["config"]}, {"devices", (*cur)["devices"]}, {"profiles", (*cur)["profiles"]}};
    w["devices"]["web-any"]["listen"] = "tcp:0.0.0.0:" + std::to_string(p_new);
    put = c.put("/1.0/instances/" + s, w);
    ASSERT_TRUE(put) << apitypes::user_message(put.error());
    EXPECT_EQ(fetch_until(bridge_ip_, p_new), hello);
    EXPECT_EQ(host_fetch(bridge_ip_, p_any, 1000), "refused");

    // Stop: the forwards go with the instance; start: same address, forwards back.
    ASSERT_EQ(change_state(c, s, "stop"), "");
    EXPECT_EQ(nft_table(net_).find(ip + ":8080"), std::string::npos) << nft_table(net_);
    EXPECT_FALSE(link_exists(netd::host_veth_name(s, "eth0")));
    ASSERT_EQ(change_state(c, s, "start"), "") << d_.log();
    ASSERT_TRUE(wait_systemd(c, s));
    EXPECT_EQ(wait_ipv4(c, s, ip), ip);
    ASSERT_EQ(start_server(c, s, 8080, "hello-" + s), 0);
    EXPECT_EQ(fetch_until("127.0.0.1", p_lo), hello);

    // Reboot inside: the monitor starts init again in a fresh netns; the nic is
    // re-plugged (same MAC, same static address) and the forwards still lead there.
    auto pid_before = c.get("/1.0/instances/" + s + "/state");
    ASSERT_TRUE(pid_before);
    (void)exec_code(c, s, {"systemctl", "reboot"});
    bool rebooted = false;
    for (int i = 0; i < 300 && !rebooted; ++i) {
        auto st = c.get("/1.0/instances/" + s + "/state");
        rebooted = st && (*st).value("pid", 0) > 0 && (*st).value("pid", 0) != (*pid_before).value("pid", 0);
        if (!rebooted) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ASSERT_TRUE(rebooted) << d_.log();
    ASSERT_TRUE(wait_systemd(c, s));
    EXPECT_EQ(wait_ipv4(c, s, ip), ip) << d_.log();
    ASSERT_EQ(start_server(c, s, 8080, "hello-" + s), 0);
    EXPECT_EQ(fetch_until("127.0.0.1", p_lo), hello);
    EXPECT_EQ(fetch_until(bridge_ip_, p_new), hello);

    delete_all_and_check_clean();
}

// The relay record of an instance's proxy device, or nullopt.
std::optional<netd::RelayRecord> relay_of(const Lxmd& d, const std::string& inst, const std::string& dev) {
    std::string path = d.state() + "/containers/" + inst + "/proxy." + dev + ".json";
    auto r = netd::read_relay_record(path);
    if (!r || !netd::relay_record_live(path, *r)) return std::nullopt;
    return *r;
}

bool process_gone(pid_t pid) {
    auto stat = base::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) return true;
    auto close = stat->rfind(')');
    return close == std::string::npos || close + 2 >= stat->size() || (*stat)[close + 2] == 'Z';
}

bool wait_gone(pid_t pid, int ms = 5000) {
    for (int i = 0; i < ms / 50 && !process_gone(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return process_gone(pid);
}

TEST_F(NetworkFeaturesTest, RelayProxyToContainerLoopback) {
    auto& c = *c_;
    // PUT of an instance is an operation: "" when it succeeded, else its error.
    auto put_wait = [&](const json& body) -> std::string {
        auto r = c_->put("/1.0/instances/" + Lxmd::name("relay"), body);
        if (!r) return apitypes::user_message(r.error());
        auto op = c_->wait_success(r->operation);
        return op ? std::string() : apitypes::user_message(op.error());
    };
    if (!base::path_exists(bin("lxm-proxy"))) GTEST_SKIP() << "lxm-proxy not built";
    const std::string s = Lxmd::name("relay");
    const int port = 20000 + (::getpid() + 7) % 20000;
    const std::string listen = "tcp:127.0.0.1:" + std::to_string(port);
    // LXD's default mode (no nat key): the issue's own example.
    json web = {{"type", "proxy"}, {"listen", listen}, {"connect", "tcp:127.0.0.1:8080"}};
    names_.push_back(s);
    ASSERT_EQ(create_debian(c, s, json{{"web", web}}), "") << d_.log();
    ASSERT_EQ(change_state(c, s, "start"), "") << d_.log();
    ASSERT_TRUE(wait_systemd(c, s));
    std::string ip = wait_ipv4(c, s);
    ASSERT_FALSE(ip.empty());
    // The server listens on the container's loopback only.
    ASSERT_EQ(exec_code(c, s, {"systemd-run", "--unit", "lxmt-lo-srv", "systemd-socket-activate", "-l", "127.0.0.1:8080",
                               "-a", "--inetd", "echo", "hello-" + s}),
              0);
    const std::string hello = "hello-" + s + "\n";
    auto fetch_until = [&](int want_port) {
        std::string got;
        for (int i = 0; i < 50; ++i) {
            got = host_fetch("127.0.0.1", want_port);
            if (got == hello) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return got;
    };
    EXPECT_EQ(fetch_until(port), hello) << d_.log();
    EXPECT_EQ(host_fetch(ip, 8080, 1000), "refused") << "the server must be bound to the container's loopback only";
    auto rec = relay_of(d_, s, "web");
    ASSERT_TRUE(rec) << d_.log();
    const pid_t relay_pid = rec->pid;
    auto st = c.get("/1.0/instances/" + s + "/state");
    ASSERT_TRUE(st);
    EXPECT_EQ(rec->target_pid, (*st).value("pid", 0));
    EXPECT_EQ(rec->listen, listen);

    // Another instance that wants the same listen address cannot start: a clear 400.
    const std::string other = Lxmd::name("relay2");
    names_.push_back(other);
    ASSERT_EQ(create_debian(c, other, json{{"web", web}}), "");
    std::string clash = change_state(c, other, "start");
    EXPECT_NE(clash.find(listen + " is already forwarded by " + s + "/web"), std::string::npos) << clash;
    // Bad address syntax: 400 naming the key.
    auto cur = c.get("/1.0/instances/" + s);
    ASSERT_TRUE(cur);
    json w = {{"config", (*cur)["config"]}, {"devices", (*cur)["devices"]}, {"profiles", (*cur)["profiles"]}};
    json badw = w;
    badw["devices"]["web2"] = {{"type", "proxy"}, {"listen", "tcp:127.0.0.1"}, {"connect", "tcp:127.0.0.1:8080"}};
    auto put = c.put("/1.0/instances/" + s, badw);
    ASSERT_FALSE(put);
    EXPECT_EQ(apitypes::http_status_of(put.error()), 400);
    EXPECT_NE(apitypes::user_message(put.error()).find("listen \"tcp:127.0.0.1\": no port"), std::string::npos)
        << apitypes::user_message(put.error());
    // Updates of the running instance: a second device on the same listen address is refused
    // before anything is written...
    badw = w;
    badw["devices"]["web-dup"] = web;
    std::string msg = put_wait(badw);
    EXPECT_NE(msg.find("already listened on by device web"), std::string::npos) << msg;
    // ...and a listen address a host process holds: the relay cannot bind, 400, the old devices stay.
    {
        const int held = port + 1;
        base::UniqueFd hold(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(held));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::bind(hold.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        ASSERT_EQ(::listen(hold.get(), 1), 0);
        badw = w;
        badw["devices"]["web-held"] = {{"type", "proxy"}, {"listen", "tcp:127.0.0.1:" + std::to_string(held)},
                                       {"connect", "tcp:127.0.0.1:8080"}};
        msg = put_wait(badw);
        EXPECT_NE(msg.find("cannot listen on tcp:127.0.0.1:" + std::to_string(held)), std::string::npos) << msg;
        auto after = c.get("/1.0/instances/" + s);
        ASSERT_TRUE(after);
        EXPECT_FALSE((*after)["devices"].contains("web-held")) << (*after)["devices"].dump();
        EXPECT_FALSE((*after)["devices"].contains("web-dup"));
        EXPECT_EQ(relay_of(d_, s, "web")->pid, relay_pid) << "the other relay is untouched";
    }

    // lxmd killed: the relay keeps serving; the next lxmd adopts it (same pid).
    d_.stop(SIGKILL);
    EXPECT_FALSE(process_gone(relay_pid));
    EXPECT_EQ(host_fetch("127.0.0.1", port), hello);
    std::string why;
    ASSERT_TRUE(d_.start(args_, &why)) << why;
    reconnect();
    std::this_thread::sleep_for(std::chrono::seconds(7));  // a periodic check ran
    rec = relay_of(d_, s, "web");
    ASSERT_TRUE(rec) << d_.log();
    EXPECT_EQ(rec->pid, relay_pid);
    EXPECT_EQ(host_fetch("127.0.0.1", port), hello);

    // A killed relay is started again by the periodic check.
    ASSERT_EQ(::kill(relay_pid, SIGKILL), 0);
    ASSERT_TRUE(wait_gone(relay_pid));
    EXPECT_EQ(fetch_until(port), hello) << d_.log();
    rec = relay_of(d_, s, "web");
    ASSERT_TRUE(rec);
    EXPECT_NE(rec->pid, relay_pid);

    // tcp on the host -> a unix socket inside: the relay resolves the path in the
    // container's mount namespace.
    ASSERT_EQ(exec_code(c, s, {"systemd-run", "--unit", "lxmt-unix-srv", "systemd-socket-activate", "-l",
                               "/run/lxmt-relay.sock", "-a", "--inetd", "echo", "hello-" + s}),
              0);
    const int uport = port + 2;
    cur = c.get("/1.0/instances/" + s);
    ASSERT_TRUE(cur);
    w = {{"config", (*cur)["config"]}, {"devices", (*cur)["devices"]}, {"profiles", (*cur)["profiles"]}};
    w["devices"]["tounix"] = {{"type", "proxy"}, {"listen", "tcp:127.0.0.1:" + std::to_string(uport)},
                              {"connect", "unix:/run/lxmt-relay.sock"}};
    ASSERT_EQ(put_wait(w), "");
    EXPECT_EQ(fetch_until(uport), hello) << d_.log();
    auto urec = relay_of(d_, s, "tounix");
    ASSERT_TRUE(urec);

    // A unix listen socket with an owner and mode (uid, gid, mode: proxy_unix_dac_properties).
    const std::string host_sock = d_.state() + "/lxmt-dac.sock";
    cur = c.get("/1.0/instances/" + s);
    ASSERT_TRUE(cur);
    w = {{"config", (*cur)["config"]}, {"devices", (*cur)["devices"]}, {"profiles", (*cur)["profiles"]}};
    w["devices"]["fromunix"] = {{"type", "proxy"}, {"listen", "unix:" + host_sock}, {"connect", "tcp:127.0.0.1:8080"},
                                {"uid", "12345"}, {"gid", "12346"}, {"mode", "0660"}};
    ASSERT_EQ(put_wait(w), "") << d_.log();
    struct stat sst {};
    ASSERT_EQ(::lstat(host_sock.c_str(), &sst), 0) << d_.log();
    EXPECT_TRUE(S_ISSOCK(sst.st_mode));
    EXPECT_EQ(sst.st_uid, 12345u);
    EXPECT_EQ(sst.st_gid, 12346u);
    EXPECT_EQ(sst.st_mode & 07777, 0660u);
    EXPECT_EQ(unix_fetch(host_sock), hello) << d_.log();
    auto drec = relay_of(d_, s, "fromunix");
    ASSERT_TRUE(drec);
    EXPECT_EQ(drec->listen_dac, "uid=12345,gid=12346,mode=0660");
    // A new mode is a changed device: a new relay, a new socket with that mode.
    w["devices"]["fromunix"]["mode"] = "0600";
    w["devices"]["fromunix"].erase("gid");
    ASSERT_EQ(put_wait(w), "") << d_.log();
    EXPECT_TRUE(wait_gone(drec->pid, 3000));
    ASSERT_EQ(::lstat(host_sock.c_str(), &sst), 0) << d_.log();
    EXPECT_EQ(sst.st_uid, 12345u);
    EXPECT_EQ(sst.st_gid, 0u);
    EXPECT_EQ(sst.st_mode & 07777, 0600u);
    EXPECT_EQ(unix_fetch(host_sock), hello);
    drec = relay_of(d_, s, "fromunix");
    ASSERT_TRUE(drec);
    // Refused for a tcp listen address, before anything changes.
    badw = w;
    badw["devices"]["tcpmode"] = {{"type", "proxy"}, {"listen", "tcp:127.0.0.1:" + std::to_string(port + 3)},
                                  {"connect", "tcp:127.0.0.1:8080"}, {"mode", "0600"}};
    auto bad_put = c.put("/1.0/instances/" + s, badw);
    ASSERT_FALSE(bad_put);
    EXPECT_EQ(apitypes::http_status_of(bad_put.error()), 400);
    EXPECT_NE(apitypes::user_message(bad_put.error()).find("unix listen socket at a path only"), std::string::npos)
        << apitypes::user_message(bad_put.error());

    // Removing the device ends its relay at once; adding it back starts one.
    pid_t p2 = rec->pid;
    cur = c.get("/1.0/instances/" + s);
    ASSERT_TRUE(cur);
    w = {{"config", (*cur)["config"]}, {"devices", (*cur)["devices"]}, {"profiles", (*cur)["profiles"]}};
    w["devices"].erase("web");
    ASSERT_EQ(put_wait(w), "");
    EXPECT_TRUE(wait_gone(p2, 1000));
    EXPECT_FALSE(relay_of(d_, s, "web"));
    EXPECT_EQ(host_fetch("127.0.0.1", port, 1000), "refused");
    w["devices"]["web"] = web;
    ASSERT_EQ(put_wait(w), "");
    EXPECT_EQ(fetch_until(port), hello);
    rec = relay_of(d_, s, "web");
    ASSERT_TRUE(rec);

    // Stopping the instance ends the relay and frees the port.
    pid_t p3 = rec->pid;
    ASSERT_EQ(change_state(c, s, "stop", true), "");
    EXPECT_TRUE(wait_gone(p3, 3000));
    EXPECT_TRUE(wait_gone(urec->pid, 3000));
    EXPECT_TRUE(wait_gone(drec->pid, 3000));
    EXPECT_FALSE(relay_of(d_, s, "web"));
    EXPECT_FALSE(relay_of(d_, s, "tounix"));
    EXPECT_FALSE(relay_of(d_, s, "fromunix"));
    EXPECT_FALSE(base::path_exists(host_sock)) << "the relay removes its listen socket";
    EXPECT_EQ(host_fetch("127.0.0.1", port, 1000), "refused");

    delete_all_and_check_clean();
    std::string procs = host_output({"ps", "-eo", "args"});
    EXPECT_EQ(procs.find("lxm-proxy --listen " + listen), std::string::npos) << procs;
}

TEST_F(NetworkFeaturesTest, RenameNetwork) {
    auto& c = *c_;
    const std::string a = net_ + "r", b = net_ + "s";
    extra_nets_ = {a};
    auto cr = c.post("/1.0/networks", json{{"name", a}, {"config", {{"ipv4.address", "auto"}}}});
    ASSERT_TRUE(cr) << apitypes::user_message(cr.error());
    auto before = c.get("/1.0/networks/" + a);
    ASSERT_TRUE(before);
    ASSERT_TRUE(link_exists(a));
    auto r = c.post("/1.0/networks/" + a, json{{"name", b}});
    ASSERT_TRUE(r) << apitypes::user_message(r.error());
    extra_nets_ = {b};
    EXPECT_FALSE(link_exists(a));
    EXPECT_TRUE(link_exists(b));
    auto after = c.get("/1.0/networks/" + b);
    ASSERT_TRUE(after);
    EXPECT_EQ((*after)["config"], (*before)["config"]);
    auto gone = c.get("/1.0/networks/" + a);
    ASSERT_FALSE(gone);
    EXPECT_EQ(apitypes::http_status_of(gone.error()), 404);
    // The default network is used by the default profile: refused, as LXD.
    r = c.post("/1.0/networks/" + net_, json{{"name", a}});
    ASSERT_FALSE(r);
    EXPECT_EQ(apitypes::http_status_of(r.error()), 400);
    EXPECT_NE(apitypes::user_message(r.error()).find("Cannot rename network when in use"), std::string::npos);
    EXPECT_TRUE(link_exists(net_));
    // A taken name: 409.
    r = c.post("/1.0/networks/" + b, json{{"name", net_}});
    ASSERT_FALSE(r);
    EXPECT_EQ(apitypes::http_status_of(r.error()), 409);
    EXPECT_TRUE(link_exists(b));
    // dnsmasq follows the bridge: nothing under the old name, one under the new.
    std::string procs = host_output({"ps", "-eo", "args"});
    EXPECT_EQ(procs.find("networks/" + a + "/"), std::string::npos) << procs;
    EXPECT_NE(procs.find("networks/" + b + "/"), std::string::npos) << procs;
    delete_all_and_check_clean();
    EXPECT_FALSE(link_exists(b));
}

TEST_F(NetworkFeaturesTest, IsolationDnsmasqAndLxmdRestarts) {
    auto& c = *c_;
    const std::string net2 = net_ + "b";
    auto cr = c.post("/1.0/networks", json{{"name", net2}, {"config", {{"ipv4.address", "auto"}}}});
    ASSERT_TRUE(cr) << apitypes::user_message(cr.error());
    extra_nets_.push_back(net2);
    const std::string x = Lxmd::name("iso-x"), y = Lxmd::name("iso-y");
    names_ = {x, y};
    ASSERT_EQ(create_debian(c, x, json::object()), "");
    ASSERT_EQ(create_debian(c, y, json{{"eth0", {{"type", "nic"}, {"network", net2}, {"name", "eth0"}}}}), "");
    for (const auto& n : names_) ASSERT_EQ(change_state(c, n, "start"), "") << d_.log();
    for (const auto& n : names_) ASSERT_TRUE(wait_systemd(c, n));
    std::string ipx = wait_ipv4(c, x), ipy = wait_ipv4(c, y);
    ASSERT_FALSE(ipx.empty());
    ASSERT_FALSE(ipy.empty());
    ASSERT_NE(ipx.substr(0, ipx.rfind('.')), ipy.substr(0, ipy.rfind('.'))) << "different subnets";

    // The host reaches both kernels (refused: nothing listens on 9)...
    EXPECT_EQ(host_fetch(ipx, 9), "refused");
    EXPECT_EQ(host_fetch(ipy, 9), "refused");
    // ...x reaches its own gateway's host and y's kernel would answer the same way, but
    // forwarding between the two bridges is dropped: the connect times out.
    EXPECT_EQ(inside_connect(c, x, ipy, 9), "timeout");
    EXPECT_EQ(inside_connect(c, y, ipx, 9), "timeout");
    // Routed: the same connect gets the kernel's answer.
    auto patch = c.patch("/1.0/networks/" + net_, json{{"config", {{"routed.networks", net2}}}});
    ASSERT_TRUE(patch) << apitypes::user_message(patch.error());
    EXPECT_EQ(inside_connect(c, x, ipy, 9), "refused");
    EXPECT_EQ(inside_connect(c, y, ipx, 9), "refused");
    auto n1 = c.get("/1.0/networks/" + net_);
    ASSERT_TRUE(n1);
    json cfg = (*n1)["config"];
    cfg.erase("routed.networks");
    ASSERT_TRUE(c.put("/1.0/networks/" + net_, json{{"config", cfg}, {"description", ""}}));
    EXPECT_EQ(inside_connect(c, x, ipy, 9), "timeout");

    // A listener of this test on the bridge address: x's path to the host.
    int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(ls, 0);
    base::UniqueFd lfd(ls);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ASSERT_EQ(::inet_pton(AF_INET, bridge_ip_.c_str(), &sa.sin_addr), 1);
    ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(::listen(ls, 16), 0);
    socklen_t sl = sizeof sa;
    ::getsockname(ls, reinterpret_cast<sockaddr*>(&sa), &sl);
    const int port = ntohs(sa.sin_port);
    auto reach = [&](const std::string& when) {
        EXPECT_EQ(inside_connect(c, x, bridge_ip_, port), "ok") << when;
        base::UniqueFd conn(::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        EXPECT_EQ(host_fetch(ipy, 9), "refused") << when;
    };
    reach("before");

    // dnsmasq killed: the supervisor starts it again; the leases survive.
    std::string pidfile = d_.state() + "/networks/" + net_ + "/dnsmasq.pid";
    auto pid_text = base::read_file(pidfile);
    ASSERT_TRUE(pid_text);
    pid_t old_pid = std::stoi(*pid_text);
    ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
    pid_t new_pid = 0;
    for (int i = 0; i < 150 && !new_pid; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto t = base::read_file(pidfile);
        if (t && std::stoi(*t) != old_pid && ::kill(std::stoi(*t), 0) == 0) new_pid = std::stoi(*t);
    }
    ASSERT_GT(new_pid, 0) << d_.log();
    auto leases = c.get("/1.0/networks/" + net_ + "/leases");
    ASSERT_TRUE(leases);
    EXPECT_NE(leases->dump().find(ipx), std::string::npos) << leases->dump();
    // A renewal through x's own networkd gets the same address from the new dnsmasq.
    EXPECT_EQ(exec_code(c, x, {"networkctl", "renew", "eth0"}), 0);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    EXPECT_EQ(state_ipv4(c, x), ipx);
    reach("after dnsmasq restart");

    // lxmd stopped (SIGTERM) then killed (SIGKILL): connectivity holds while it is
    // down and after it comes back; nothing is rebuilt under the containers.
    std::string rules_before = nft_table(net_);
    for (int sig : {SIGTERM, SIGKILL}) {
        const std::string when = std::string(sig == SIGTERM ? "SIGTERM" : "SIGKILL");
        d_.stop(sig);
        EXPECT_TRUE(link_exists(net_));
        EXPECT_TRUE(link_exists(netd::host_veth_name(x, "eth0")));
        EXPECT_EQ(::kill(new_pid, 0), 0) << "dnsmasq kept running";
        EXPECT_EQ(host_fetch(ipx, 9), "refused") << when << " (lxmd down)";
        EXPECT_EQ(host_fetch(ipy, 9), "refused") << when << " (lxmd down)";
        std::string why;
        ASSERT_TRUE(d_.start(args_, &why)) << why;
        reconnect();
        auto& c2 = *c_;
        EXPECT_EQ(state_ipv4(c2, x), ipx) << when;
        EXPECT_EQ(inside_connect(c2, x, bridge_ip_, port), "ok") << when;
        base::UniqueFd conn(::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        EXPECT_EQ(inside_connect(c2, x, ipy, 9), "timeout") << when << " isolation kept";
        EXPECT_EQ(nft_table(net_), rules_before) << when;
        auto b = base::read_file(pidfile);
        EXPECT_TRUE(b && std::stoi(*b) == new_pid) << when << ": dnsmasq adopted, not restarted";
    }

    // lxm list / info show the addresses (read from the containers' netns).
    if (base::path_exists(bin("lxm"))) {
        std::string env = "LXM_DIR=" + d_.state();
        std::string list = host_output({"env", env, bin("lxm"), "list", "-f", "csv", "-c", "n4"});
        EXPECT_NE(list.find(ipx), std::string::npos) << list;
        EXPECT_NE(list.find(ipy), std::string::npos) << list;
        std::string info = host_output({"env", env, bin("lxm"), "info", x});
        EXPECT_NE(info.find(ipx), std::string::npos) << info;
        std::string nets = host_output({"env", env, bin("lxm"), "network", "list", "-f", "csv"});
        EXPECT_NE(nets.find(net2), std::string::npos) << nets;
        std::string ls_out = host_output({"env", env, bin("lxm"), "network", "list-leases", net_, "-f", "csv"});
        EXPECT_NE(ls_out.find(ipx), std::string::npos) << ls_out;
        std::string ninfo = host_output({"env", env, bin("lxm"), "network", "info", net_});
        EXPECT_NE(ninfo.find(bridge_ip_), std::string::npos) << ninfo;
    }

    delete_all_and_check_clean();
    // dnsmasq gone (a zombie waiting for a PID 1 that does not reap counts as gone).
    auto stat = base::read_file("/proc/" + std::to_string(new_pid) + "/stat");
    EXPECT_TRUE(!stat || stat->find(") Z ") != std::string::npos) << *stat;
}

}  // namespace
}  // namespace lxm::test
