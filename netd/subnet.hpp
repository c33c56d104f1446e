// Subnet choice for managed bridges: pick an IPv4 /24 and an IPv6 ULA /64 that
// no route or address of the host uses. The host state is read from the kernel
// over netlink (routes of every table, addresses of every link) — never by
// probing the network. The choice itself is a pure function of that state and
// a seed (the network name), so it is deterministic but spread out.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::netd {

// An IPv4 prefix; addr in host byte order. to_string keeps the host bits
// ("10.1.2.1/24" stays as written), network() clears them.
struct Ipv4Net {
    uint32_t addr = 0;
    uint8_t prefix = 0;

    uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
    Ipv4Net network() const { return {addr & mask(), prefix}; }
    bool contains(uint32_t a) const { return (a & mask()) == (addr & mask()); }
    bool operator==(const Ipv4Net&) const = default;
};

struct Ipv6Net {
    std::array<uint8_t, 16> addr{};
    uint8_t prefix = 0;

    Ipv6Net network() const;
    bool operator==(const Ipv6Net&) const = default;
};

// "10.0.3.1/24" (the prefix is required unless default_prefix is given).
base::Result<Ipv4Net> parse_ipv4_cidr(std::string_view text, std::optional<uint8_t> default_prefix = {});
base::Result<Ipv6Net> parse_ipv6_cidr(std::string_view text, std::optional<uint8_t> default_prefix = {});
// "10.0.3.1" (host byte order).
base::Result<uint32_t> parse_ipv4(std::string_view text);
std::string ipv4_to_string(uint32_t addr);
std::string to_string(const Ipv4Net& n);           // "a.b.c.d/p"
std::string to_string(const Ipv6Net& n);           // "fd42::1/64"
std::string ipv6_addr_to_string(const std::array<uint8_t, 16>& a);

bool overlaps(const Ipv4Net& a, const Ipv4Net& b);
bool overlaps(const Ipv6Net& a, const Ipv6Net& b);

// Prefixes in use on the host: destinations of routes and prefixes of addresses.
// Default routes (prefix 0) are left out by the reader: they would overlap everything.
struct UsedNetworks {
    std::vector<Ipv4Net> v4;
    std::vector<Ipv6Net> v6;
};

// Stable 64-bit hash (FNV-1a) used for spreading choices; the same input gives the
// same value on every build and machine.
uint64_t stable_hash(std::string_view s);

// Choose a 10.x.y.0/24 that overlaps nothing in used. Candidates are walked from a
// seed-derived start with an odd stride, so different seeds spread over the space.
// Returns the subnet (host bits zero); the bridge takes .1. nullopt when all are taken.
std::optional<Ipv4Net> choose_ipv4_subnet(const std::vector<Ipv4Net>& used, std::string_view seed);
// Choose an fd42:xxxx:xxxx:xxxx::/64 (ULA) that overlaps nothing in used.
std::optional<Ipv6Net> choose_ipv6_subnet(const std::vector<Ipv6Net>& used, std::string_view seed);

// Read every route (all tables) and every address of the current network namespace.
base::Result<UsedNetworks> read_used_networks();

}  // namespace lxm::netd
