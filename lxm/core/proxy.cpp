#include "lxm/core/proxy.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "lxm/apitypes/http_error.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;

Result<ProxyEndpoint> parse_proxy_endpoint(const std::string& key, const std::string& value) {
    auto bad = [&](const std::string& why) {
        return http_error(400, key + " \"" + value.substr(0, 80) + "\": " + why + " (expected tcp:ADDR:PORT or udp:ADDR:PORT)");
    };
    ProxyEndpoint e;
    auto colon = value.find(':');
    if (colon == std::string::npos) return bad("no protocol");
    e.proto = value.substr(0, colon);
    if (e.proto == "unix") return bad("unix sockets are not supported");
    if (e.proto != "tcp" && e.proto != "udp") return bad("unknown protocol \"" + e.proto.substr(0, 16) + "\"");
    std::string rest = value.substr(colon + 1);
    std::string addr, port;
    if (!rest.empty() && rest[0] == '[') {
        auto close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') return bad("bad [IPv6]:PORT");
        addr = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
        e.ipv6 = true;
    } else {
        auto c = rest.rfind(':');
        if (c == std::string::npos) return bad("no port");
        addr = rest.substr(0, c);
        port = rest.substr(c + 1);
    }
    unsigned char buf[16];
    if (e.ipv6 ? inet_pton(AF_INET6, addr.c_str(), buf) != 1 : inet_pton(AF_INET, addr.c_str(), buf) != 1)
        return bad("\"" + addr.substr(0, 64) + "\" is not an IP" + (e.ipv6 ? "v6" : "v4") + " address (host names are not resolved)");
    if (port.find_first_of("-,") != std::string::npos) return bad("port ranges are not supported");
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || ptr != port.data() + port.size() || p < 1 || p > 65535) return bad("port must be 1-65535");
    char norm[INET6_ADDRSTRLEN] = {};
    inet_ntop(e.ipv6 ? AF_INET6 : AF_INET, buf, norm, sizeof norm);
    e.address = norm;
    e.port = static_cast<uint16_t>(p);
    return e;
}

Result<ProxyDevice> parse_proxy_device(const std::string& name, const store::ConfigMap& dev) {
    auto err = [&](const std::string& why) { return http_error(400, "Proxy device \"" + name + "\": " + why); };
    ProxyDevice d;
    d.name = name;
    for (const auto& [k, v] : dev) {
        if (k == "type" || k == "listen" || k == "connect" || k == "nat" || k == "description") continue;
        if (k == "bind") {
            if (v != "host" && !v.empty()) return err("bind=" + v.substr(0, 32) + " is not supported (only bind=host)");
            continue;
        }
        if (k == "proxy_protocol") {
            if (v != "false" && !v.empty()) return err("proxy_protocol is not supported");
            continue;
        }
        return err("unknown key \"" + k.substr(0, 64) + "\"");
    }
    auto l = dev.find("listen");
    auto c = dev.find("connect");
    if (l == dev.end() || l->second.empty()) return err("listen is required");
    if (c == dev.end() || c->second.empty()) return err("connect is required");
    auto listen = parse_proxy_endpoint("listen", l->second);
    if (!listen) return err(listen.error().message());
    auto connect = parse_proxy_endpoint("connect", c->second);
    if (!connect) return err(connect.error().message());
    d.listen = *listen;
    d.connect = *connect;
    if (auto n = dev.find("nat"); n != dev.end()) {
        if (n->second == "true") d.nat = true;
        else if (n->second != "false" && !n->second.empty()) return err("nat must be true or false");
    }
    if (d.listen.proto != d.connect.proto) return err("listen and connect must use the same protocol");
    if (!d.nat)
        return err("only nat=true is supported: lxm forwards with nft DNAT to the instance's address "
                   "(set nat=true and connect=" + d.connect.proto + ":0.0.0.0:" + std::to_string(d.connect.port) +
                   "); the userspace relay of LXD's nat=false mode is not implemented");
    if (d.listen.ipv6 || d.connect.ipv6) return err("nat=true forwards IPv4 only");
    if (d.connect.address.rfind("127.", 0) == 0)
        return err("with nat=true connect is the instance's address (0.0.0.0 or its nic's IPv4 address), not loopback: "
                   "the server inside must listen on its eth0 address or on all addresses");
    return d;
}

}  // namespace lxm::core
