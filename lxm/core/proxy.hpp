// Proxy devices (LXD's `type: proxy`) for lxm's managed networks.
//
//   lxm config device add c1 web proxy listen=tcp:0.0.0.0:8080 connect=tcp:0.0.0.0:80 nat=true
//
// Keys: listen and connect ("tcp:ADDR:PORT" or "udp:ADDR:PORT", IPv6 as [ADDR]),
// nat (true|false), bind (host only). lxm serves proxies with nat=true: an nft
// DNAT forward (netd::NftForward) from the host's listen address/port to the
// instance's address on one of its managed nics. The connect address names that
// address: 0.0.0.0 means "the instance's address" (the first nic in device order
// on a managed IPv4 network: its static ipv4.address, else its DHCP lease), a
// literal must be the static ipv4.address or the current lease of one of the
// instance's nics. A listen address of 0.0.0.0 is every local address of the host;
// 127.0.0.1 (host loopback) is served by DNAT too (route_localnet on lxm bridges,
// with netd's guard chain keeping containers off 127/8). Forwards are installed
// while the instance runs and follow its lease (Networks::sync_proxies).
//
// nat=false (LXD's userspace forkproxy, which can reach a server bound to
// 127.0.0.1 inside the container) is refused with an explanation.
#pragma once

#include <cstdint>
#include <string>

#include "lxm/base/error.hpp"
#include "store/config_maps.hpp"

namespace lxm::core {

struct ProxyEndpoint {
    std::string proto;    // "tcp" | "udp"
    std::string address;  // literal, IPv6 without brackets
    bool ipv6 = false;
    uint16_t port = 0;
};

struct ProxyDevice {
    std::string name;
    ProxyEndpoint listen;
    ProxyEndpoint connect;
    bool nat = false;
};

// "tcp:1.2.3.4:80" / "udp:[fd00::1]:53". Errors are http 400 with the key named.
base::Result<ProxyEndpoint> parse_proxy_endpoint(const std::string& key, const std::string& value);
// Every key checked; errors are http 400 naming the device.
base::Result<ProxyDevice> parse_proxy_device(const std::string& name, const store::ConfigMap& dev);

}  // namespace lxm::core
