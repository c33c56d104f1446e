// lxm's nftables rules, through libnftables (never the nft binary). One table
// (family inet, default name "lxm") holds everything for every managed bridge
// and port forward; apply() replaces it atomically in one transaction, so it is
// idempotent and the rules always match the desired state passed in.
//
//   postrouting (nat, srcnat):  masquerade bridge subnets leaving elsewhere (ipv4.nat / ipv6.nat),
//                               hairpin (forwarded back into the same bridge) and loopback forwards
//   forward (filter):           drop traffic between two of the table's bridges (isolation, unless
//                               one lists the other in NftBridge::routed), accept from and to each bridge
//   input (filter):             accept DHCP/DNS (and DHCPv6/RA) arriving on each bridge
//   prerouting/output (nat, dstnat): DNAT port forwards (proxy-device style)
//   guard (filter, prerouting raw): drop 127/8 sources/destinations arriving on a bridge
//
// Accepting in our table cannot override a drop in another table at the same
// hook; detect_forward_drop() finds such host policies so the caller can warn.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::netd {

struct NftBridge {
    std::string bridge;        // link name
    std::string ipv4_subnet;   // "10.1.2.0/24" or empty
    bool ipv4_nat = false;
    std::string ipv6_subnet;   // "fd42:1:2:3::/64" or empty
    bool ipv6_nat = false;
    // Other bridges of this table whose traffic may be forwarded to and from this one.
    // Forwarding between two bridges of the table is dropped unless either lists the other.
    std::vector<std::string> routed;
};

// listen <proto>:<listen_address>:<listen_port> → <target_address>:<target_port>.
// An empty or wildcard listen address ("0.0.0.0", "::") matches every local
// address of the host (fib daddr type local), for traffic from outside
// (prerouting) and from the host itself (output). IPv4 loopback (127.0.0.0/8,
// and the wildcard from the host itself) is served too: DNAT in output, then
// masquerade of the 127/8 source towards the target; this needs
// route_localnet on the target's bridge (enable_route_localnet), and the
// rules drop anything with a 127/8 source or destination arriving from a
// bridge, so containers gain no path to the host's loopback services.
// IPv6 ::1 cannot be served by DNAT and is refused.
struct NftForward {
    std::string proto = "tcp";      // "tcp" | "udp"
    std::string listen_address;     // IPv4 or IPv6 literal, or empty for any
    uint16_t listen_port = 0;
    std::string target_address;     // the container's address (same family as listen, when given)
    uint16_t target_port = 0;
};

struct NftConfig {
    std::string table = "lxm";
    std::vector<NftBridge> bridges;
    std::vector<NftForward> forwards;
};

// The full ruleset text for apply(): "add table; delete table; table { ... }" so one
// transaction replaces whatever was there. Pure; validates names and addresses.
base::Result<std::string> render_ruleset(const NftConfig& cfg);

// Run an nft command buffer through libnftables; returns its output (JSON when json).
base::Result<std::string> nft_run(const std::string& commands, bool json = false);

// Replace lxm's table with the rules for cfg (one transaction).
base::Result<void> nft_apply(const NftConfig& cfg);
// Delete the table; absent is success.
base::Result<void> nft_delete_table(const std::string& table = "lxm");
// `list table inet <table>` as libnftables JSON text; ENOENT when absent.
base::Result<std::string> nft_list_table_json(const std::string& table = "lxm");

// Look at the whole ruleset (JSON) for a forward-hook base chain outside our own
// table whose policy is drop, or whose rules end in an unconditional drop. Returns
// a warning sentence naming the table and chain, or nullopt when none was found.
// Pure variant on given JSON text for tests.
std::optional<std::string> find_forward_drop(const std::string& ruleset_json, const std::string& our_table = "lxm");
base::Result<std::optional<std::string>> detect_forward_drop(const std::string& our_table = "lxm");

// net.ipv4.conf.<bridge>.route_localnet = 1 (see NftForward).
base::Result<void> enable_route_localnet(const std::string& bridge);

// Enable forwarding (net.ipv4.ip_forward, and net.ipv6.conf.all.forwarding when ipv6)
// in the caller's network namespace. Returns true when a value had to be changed
// (the caller logs a note), false when it was already on.
base::Result<bool> enable_ip_forward(bool ipv6);

}  // namespace lxm::netd
