// Proxy device parsing and validation (lxm/core/proxy.hpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/proxy.hpp"
#include "lxm/base/file.hpp"
#include "netd/proxy_relay.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::core;
namespace store = lxm::store;

namespace {
std::string error_of(const store::ConfigMap& dev) {
    auto r = parse_proxy_device("web", dev);
    return r ? std::string() : r.error().message();
}
}  // namespace

TEST(CoreProxy, Endpoints) {
    auto e = parse_proxy_endpoint("listen", "tcp:127.0.0.1:8080");
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_EQ(e->proto, "tcp");
    EXPECT_EQ(e->address, "127.0.0.1");
    EXPECT_EQ(e->port, 8080);
    EXPECT_FALSE(e->ipv6);
    e = parse_proxy_endpoint("listen", "udp:[fd42::0001]:53");
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_TRUE(e->ipv6);
    EXPECT_EQ(e->address, "fd42::1");
    EXPECT_EQ(e->port, 53);
    for (const char* bad : {"tcp", "tcp:1.2.3.4", "sctp:1.2.3.4:80", "tcp:1.2.3.4:0", "tcp:1.2.3.4:65536",
                            "tcp:1.2.3.4:80-90", "tcp:example.com:80", "tcp:[::1:80", "unix:run/x.sock", "unix:", "unix:@",
                            "tcp:1.2.3.4:8x"})
        EXPECT_FALSE(parse_proxy_endpoint("listen", bad)) << bad;
    e = parse_proxy_endpoint("connect", "unix:/run/x.sock");
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_EQ(e->proto, "unix");
    EXPECT_EQ(e->path, "/run/x.sock");
    EXPECT_FALSE(e->ipv6);
    EXPECT_EQ(e->to_string(), "unix:/run/x.sock");
    EXPECT_TRUE(parse_proxy_endpoint("connect", "unix:@abstract"));
    EXPECT_FALSE(parse_proxy_endpoint("connect", "unix:/" + std::string(120, 'x')));
    EXPECT_EQ(parse_proxy_endpoint("l", "udp:[fd42::0001]:53")->to_string(), "udp:[fd42::1]:53");
    EXPECT_EQ(parse_proxy_endpoint("l", "tcp:127.0.0.1:80")->to_string(), "tcp:127.0.0.1:80");
    auto err = parse_proxy_endpoint("listen", "tcp:1.2.3.4:0");
    ASSERT_FALSE(err);
    EXPECT_NE(err.error().message().find("listen \"tcp:1.2.3.4:0\": port must be 1-65535"), std::string::npos)
        << err.error().message();
}

TEST(CoreProxy, ListenOverlap) {
    auto ep = [](const char* s) { return *lxm::netd::parse_relay_endpoint(s); };
    using lxm::netd::relay_listens_overlap;
    EXPECT_TRUE(relay_listens_overlap(ep("tcp:127.0.0.1:80"), ep("tcp:127.0.0.1:80")));
    EXPECT_TRUE(relay_listens_overlap(ep("tcp:0.0.0.0:80"), ep("tcp:127.0.0.1:80")));
    EXPECT_TRUE(relay_listens_overlap(ep("tcp:[::]:80"), ep("tcp:10.0.0.1:80")));
    EXPECT_FALSE(relay_listens_overlap(ep("tcp:127.0.0.1:80"), ep("tcp:127.0.0.2:80")));
    EXPECT_FALSE(relay_listens_overlap(ep("tcp:127.0.0.1:80"), ep("tcp:127.0.0.1:81")));
    EXPECT_FALSE(relay_listens_overlap(ep("tcp:127.0.0.1:80"), ep("udp:127.0.0.1:80")));
    EXPECT_FALSE(relay_listens_overlap(ep("tcp:0.0.0.0:80"), ep("tcp:[fd00::1]:80")));
    EXPECT_TRUE(relay_listens_overlap(ep("unix:/run/a"), ep("unix:/run/a")));
    EXPECT_FALSE(relay_listens_overlap(ep("unix:/run/a"), ep("unix:/run/b")));
}

TEST(CoreProxy, RelayRecords) {
    lxm::test::TempDir dir("proxyrec");
    lxm::netd::RelayRecord rec;
    rec.pid = ::getpid();
    rec.starttime = lxm::netd::process_starttime(rec.pid);
    rec.listen = "tcp:127.0.0.1:8080";
    rec.connect = "unix:/run/x.sock";
    rec.target_pid = 1;
    rec.listen_dac = "uid=1000,mode=0660";
    EXPECT_GT(rec.starttime, 0u);
    ASSERT_TRUE(lxm::netd::write_relay_record(dir / "r.json", rec));
    auto back = lxm::netd::read_relay_record(dir / "r.json");
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->pid, rec.pid);
    EXPECT_EQ(back->starttime, rec.starttime);
    EXPECT_EQ(back->listen, rec.listen);
    EXPECT_EQ(back->connect, rec.connect);
    EXPECT_EQ(back->target_pid, 1);
    EXPECT_EQ(back->listen_dac, rec.listen_dac);
    // This test binary is alive with that start time, but it is not lxm-proxy serving the record.
    EXPECT_FALSE(lxm::netd::relay_record_live(dir / "r.json", rec));
    EXPECT_EQ(lxm::netd::process_starttime(0x3fffffff), 0u);
    ASSERT_TRUE(lxm::base::write_file(dir / "bad.json", "{\"pid\": \"x\"", true));
    EXPECT_FALSE(lxm::netd::read_relay_record(dir / "bad.json"));
}

TEST(CoreProxy, Devices) {
    store::ConfigMap ok{{"type", "proxy"}, {"listen", "tcp:0.0.0.0:8080"}, {"connect", "tcp:0.0.0.0:80"}, {"nat", "true"}};
    auto d = parse_proxy_device("web", ok);
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_TRUE(d->nat);
    EXPECT_EQ(d->listen.port, 8080);
    EXPECT_EQ(d->connect.port, 80);

    auto with = [&](std::string k, std::string v) {
        auto m = ok;
        m[k] = v;
        return m;
    };
    auto without = [&](std::string k) {
        auto m = ok;
        m.erase(k);
        return m;
    };
    EXPECT_NE(error_of(without("listen")).find("listen is required"), std::string::npos);
    EXPECT_NE(error_of(without("connect")).find("connect is required"), std::string::npos);
    EXPECT_NE(error_of(with("bogus", "1")).find("unknown key \"bogus\""), std::string::npos);
    EXPECT_NE(error_of(with("connect", "udp:0.0.0.0:80")).find("same protocol"), std::string::npos);
    EXPECT_NE(error_of(with("nat", "maybe")).find("nat must be"), std::string::npos);
    EXPECT_NE(error_of(with("bind", "instance")).find("bind=instance"), std::string::npos);
    // DNAT reaches the instance's address, not its loopback; IPv4 tcp/udp only.
    EXPECT_NE(error_of(with("connect", "tcp:127.0.0.1:80")).find("not loopback"), std::string::npos);
    EXPECT_NE(error_of(with("listen", "tcp:[::]:80")).find("IPv4 only"), std::string::npos);
    EXPECT_NE(error_of(with("connect", "unix:/run/x.sock")).find("nat=true forwards tcp and udp only"), std::string::npos);

    // nat=false (LXD's default): the relay, which reaches the instance's loopback and
    // unix sockets, and mixes stream protocols.
    auto relay = without("nat");
    relay["connect"] = "tcp:127.0.0.1:80";
    d = parse_proxy_device("web", relay);
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_FALSE(d->nat);
    EXPECT_EQ(d->connect.address, "127.0.0.1");
    relay["nat"] = "false";
    relay["connect"] = "unix:/run/app.sock";
    EXPECT_TRUE(parse_proxy_device("web", relay));
    relay["listen"] = "unix:/run/lxm-web.sock";
    relay["connect"] = "tcp:[::1]:80";
    EXPECT_TRUE(parse_proxy_device("web", relay));
    relay["listen"] = "udp:127.0.0.1:53";
    relay["connect"] = "udp:127.0.0.1:53";
    EXPECT_TRUE(parse_proxy_device("web", relay));
    relay["connect"] = "tcp:127.0.0.1:53";
    EXPECT_NE(error_of(relay).find("udp relays only to udp"), std::string::npos) << error_of(relay);
    // Errors are http 400 and name the device.
    auto r = parse_proxy_device("web", without("listen"));
    ASSERT_FALSE(r);
    EXPECT_EQ(lxm::apitypes::http_status_of(r.error()), 400);
    EXPECT_NE(r.error().message().find("Proxy device \"web\""), std::string::npos);
    // validate_devices knows the type.
    EXPECT_TRUE(validate_devices({{"web", ok}}));
    EXPECT_FALSE(validate_devices({{"web", without("connect")}}));
}

// proxy_unix_dac_properties: uid, gid and mode of a unix listen socket at a path.
TEST(CoreProxy, UnixListenOwnerAndMode) {
    store::ConfigMap dev{{"type", "proxy"}, {"listen", "unix:/run/lxmt-app.sock"}, {"connect", "tcp:127.0.0.1:80"}};
    auto d = parse_proxy_device("app", dev);
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_TRUE(d->listen_dac.is_default());
    EXPECT_EQ(d->listen_dac.to_string(), "");
    dev["uid"] = "1000";
    dev["gid"] = "1001";
    dev["mode"] = "0660";
    d = parse_proxy_device("app", dev);
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(d->listen_dac.uid, 1000);
    EXPECT_EQ(d->listen_dac.gid, 1001);
    EXPECT_EQ(d->listen_dac.mode, 0660u);
    EXPECT_EQ(d->listen_dac.to_string(), "uid=1000,gid=1001,mode=0660");
    dev.erase("uid");
    dev["mode"] = "600";
    d = parse_proxy_device("app", dev);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->listen_dac.to_string(), "gid=1001,mode=0600");
    dev["mode"] = "";  // empty: the default
    dev.erase("gid");
    d = parse_proxy_device("app", dev);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->listen_dac.is_default());

    auto bad = [&](const std::string& k, const std::string& v) {
        auto m = dev;
        m[k] = v;
        return error_of(m);
    };
    EXPECT_NE(bad("mode", "0680").find("not an octal file mode"), std::string::npos);
    EXPECT_NE(bad("mode", "17777").find("not an octal file mode"), std::string::npos);
    EXPECT_NE(bad("uid", "-1").find("not a numeric id"), std::string::npos);
    EXPECT_NE(bad("gid", "root").find("not a numeric id"), std::string::npos);
    EXPECT_NE(bad("uid", "4294967295").find("not a numeric id"), std::string::npos);
    // Only a unix listen socket at a path has an owner and mode.
    auto tcp = dev;
    tcp["listen"] = "tcp:127.0.0.1:8080";
    tcp["uid"] = "1000";
    EXPECT_NE(error_of(tcp).find("unix listen socket at a path only"), std::string::npos) << error_of(tcp);
    auto abstract = dev;
    abstract["listen"] = "unix:@lxmt-app";
    abstract["mode"] = "0666";
    EXPECT_NE(error_of(abstract).find("unix listen socket at a path only"), std::string::npos);

    // The advertised extensions name it, and not the features lxm refuses.
    std::vector<std::string> ext(std::begin(kProxyExtensions), std::end(kProxyExtensions));
    EXPECT_NE(std::find(ext.begin(), ext.end(), "proxy_unix_dac_properties"), ext.end());
    EXPECT_EQ(std::find(ext.begin(), ext.end(), "proxy_tcp_udp_multi_port_handling"), ext.end());
    EXPECT_EQ(std::find(ext.begin(), ext.end(), "proxy_haproxy_protocol"), ext.end());
}
