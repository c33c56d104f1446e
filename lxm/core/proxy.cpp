#include "lxm/core/proxy.hpp"

#include <charconv>

#include "lxm/apitypes/http_error.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;

Result<ProxyEndpoint> parse_proxy_endpoint(const std::string& key, const std::string& value) {
    auto e = netd::parse_relay_endpoint(value);
    if (!e)
        return http_error(400, key + " \"" + value.substr(0, 80) + "\": " + e.error().context +
                                   " (expected tcp:ADDR:PORT, udp:ADDR:PORT or unix:PATH)");
    return *e;
}

Result<ProxyDevice> parse_proxy_device(const std::string& name, const store::ConfigMap& dev) {
    auto err = [&](const std::string& why) { return http_error(400, "Proxy device \"" + name + "\": " + why); };
    ProxyDevice d;
    d.name = name;
    for (const auto& [k, v] : dev) {
        if (k == "type" || k == "listen" || k == "connect" || k == "nat" || k == "description") continue;
        if (k == "uid" || k == "gid" || k == "mode") {
            if (v.empty()) continue;
            const bool mode = k == "mode";
            const int64_t max = mode ? 07777 : 0xfffffffe;
            int64_t n = -1;
            auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n, mode ? 8 : 10);
            if (ec != std::errc{} || ptr != v.data() + v.size() || n < 0 || n > max)
                return err(k + "=" + v.substr(0, 32) +
                           (mode ? " is not an octal file mode (e.g. 0660)" : " is not a numeric id"));
            if (k == "uid") d.listen_dac.uid = n;
            else if (k == "gid") d.listen_dac.gid = n;
            else d.listen_dac.mode = static_cast<uint32_t>(n);
            continue;
        }
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
    if (!d.listen_dac.is_default() && (d.listen.proto != "unix" || d.listen.path[0] != '/'))
        return err("uid, gid and mode apply to a unix listen socket at a path only (listen=unix:/PATH)");
    if (auto n = dev.find("nat"); n != dev.end()) {
        if (n->second == "true") d.nat = true;
        else if (n->second != "false" && !n->second.empty()) return err("nat must be true or false");
    }
    if (!d.nat) {
        // The relay copies bytes between two streams (tcp, unix) or two datagram sockets.
        if (d.listen.stream() != d.connect.stream())
            return err("udp relays only to udp (listen and connect must both be udp or both tcp/unix)");
        return d;
    }
    if (d.listen.proto == "unix" || d.connect.proto == "unix")
        return err("nat=true forwards tcp and udp only (unix sockets need nat=false, the relay)");
    if (d.listen.proto != d.connect.proto) return err("listen and connect must use the same protocol");
    if (d.listen.ipv6 || d.connect.ipv6) return err("nat=true forwards IPv4 only");
    if (d.connect.address.rfind("127.", 0) == 0)
        return err("with nat=true connect is the instance's address (0.0.0.0 or its nic's IPv4 address), not loopback: "
                   "the server inside must listen on its eth0 address or on all addresses (or use nat=false, the relay)");
    return d;
}

}  // namespace lxm::core
