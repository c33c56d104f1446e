// Proxy device parsing and validation (lxm/core/proxy.hpp).
#include <gtest/gtest.h>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/proxy.hpp"

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
                            "tcp:1.2.3.4:80-90", "tcp:example.com:80", "tcp:[::1:80", "unix:/run/x.sock", "tcp:1.2.3.4:8x"})
        EXPECT_FALSE(parse_proxy_endpoint("listen", bad)) << bad;
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
    // nat=false (LXD's default, a userspace relay) is refused with the way out.
    EXPECT_NE(error_of(without("nat")).find("set nat=true"), std::string::npos) << error_of(without("nat"));
    // DNAT reaches the instance's address, not its loopback.
    EXPECT_NE(error_of(with("connect", "tcp:127.0.0.1:80")).find("not loopback"), std::string::npos);
    EXPECT_NE(error_of(with("listen", "tcp:[::]:80")).find("IPv4 only"), std::string::npos);
    // Errors are http 400 and name the device.
    auto r = parse_proxy_device("web", without("listen"));
    ASSERT_FALSE(r);
    EXPECT_EQ(lxm::apitypes::http_status_of(r.error()), 400);
    EXPECT_NE(r.error().message().find("Proxy device \"web\""), std::string::npos);
    // validate_devices knows the type.
    EXPECT_TRUE(validate_devices({{"web", ok}}));
    EXPECT_FALSE(validate_devices({{"web", without("connect")}}));
}
