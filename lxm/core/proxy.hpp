// Proxy devices (LXD's `type: proxy`) for lxm's managed networks.
//
//   lxm config device add c1 web proxy listen=tcp:0.0.0.0:8080 connect=tcp:0.0.0.0:80 nat=true
//
// Keys: listen and connect (LXD's syntax: "tcp:ADDR:PORT", "udp:ADDR:PORT", IPv6 as
// [ADDR], "unix:/path" or "unix:@abstract"), nat (true|false, default false), bind
// (host only), and for a unix listen path uid, gid (numeric) and mode (octal, default
// 0644): the owner and mode of the socket the relay creates (LXD's proxy_unix_dac_properties).
//
// nat=false (LXD's default): a userspace relay, one lxm-proxy process per device
// (lxm/core/proxy_relays.hpp, netd/proxy_relay.hpp). The listen socket is on the host;
// each connection is made inside the instance's network namespace (and its mount
// namespace for a unix path), so connect=tcp:127.0.0.1:PORT reaches a server bound
// only to the container's loopback. Stream addresses mix freely (tcp <-> unix); udp
// relays to udp only.
//
// nat=true: an nft DNAT forward (netd::NftForward) from the host's listen address/port
// to the instance's address on one of its managed nics (tcp/udp, IPv4). The connect
// address names that address: 0.0.0.0 means "the instance's address" (the first nic in
// device order on a managed IPv4 network: its static ipv4.address, else its DHCP lease),
// a literal must be the static ipv4.address or the current lease of one of the
// instance's nics. A listen address of 0.0.0.0 is every local address of the host;
// 127.0.0.1 (host loopback) is served by DNAT too (route_localnet on lxm bridges, with
// netd's guard chain keeping containers off 127/8).
//
// Both kinds are set up while the instance runs and follow it (Networks::sync_proxies).
#pragma once

#include <cstdint>
#include <string>

#include "lxm/base/error.hpp"
#include "netd/proxy_relay.hpp"
#include "store/config_maps.hpp"

namespace lxm::core {

using ProxyEndpoint = netd::RelayEndpoint;

struct ProxyDevice {
    std::string name;
    ProxyEndpoint listen;
    ProxyEndpoint connect;
    bool nat = false;
    netd::ListenDac listen_dac{};
};

// The LXD API extensions of proxy devices that parse_proxy_device and the relay/DNAT
// implement (advertised in GET /1.0). Not among them: proxy_tcp_udp_multi_port_handling
// (port ranges and lists are refused) and proxy_haproxy_protocol (proxy_protocol=true is refused).
inline constexpr const char* kProxyExtensions[] = {"proxy", "proxy_unix", "proxy_udp", "proxy_unix_dac_properties",
                                                   "proxy_nat"};

// "tcp:1.2.3.4:80" / "udp:[fd00::1]:53" / "unix:/run/x.sock". Errors are http 400 with the key named.
base::Result<ProxyEndpoint> parse_proxy_endpoint(const std::string& key, const std::string& value);
// Every key checked; errors are http 400 naming the device.
base::Result<ProxyDevice> parse_proxy_device(const std::string& name, const store::ConfigMap& dev);

}  // namespace lxm::core
