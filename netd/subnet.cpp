#include "netd/subnet.hpp"

#include <arpa/inet.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

#include "netd/netlink.hpp"

namespace lxm::netd {
namespace {

base::Result<uint8_t> parse_prefix(std::string_view text, int max, std::string_view whole) {
    int p = -1;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
    if (ec != std::errc{} || ptr != text.data() + text.size() || p < 0 || p > max || text.empty())
        return base::make_error(std::errc::invalid_argument, "invalid prefix length in " + std::string(whole));
    return static_cast<uint8_t>(p);
}

// Split "addr/prefix"; missing prefix uses default_prefix.
template <typename ParseAddr, typename Net>
base::Result<Net> parse_cidr(std::string_view text, std::optional<uint8_t> default_prefix, int max,
                             ParseAddr parse_addr) {
    auto slash = text.find('/');
    std::string_view a = text.substr(0, slash);
    Net n;
    LXM_TRY(n.addr, parse_addr(a));
    if (slash == std::string_view::npos) {
        if (!default_prefix)
            return base::make_error(std::errc::invalid_argument, "missing prefix length in " + std::string(text));
        n.prefix = *default_prefix;
    } else {
        LXM_TRY(n.prefix, parse_prefix(text.substr(slash + 1), max, text));
    }
    return n;
}

base::Result<std::array<uint8_t, 16>> parse_ipv6(std::string_view text) {
    std::array<uint8_t, 16> out{};
    std::string s(text);
    if (::inet_pton(AF_INET6, s.c_str(), out.data()) != 1)
        return base::make_error(std::errc::invalid_argument, "invalid IPv6 address " + s);
    return out;
}

bool v6_prefix_equal(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
    int full = bits / 8;
    if (std::memcmp(a.data(), b.data(), full) != 0) return false;
    int rem = bits % 8;
    if (rem == 0) return true;
    uint8_t m = static_cast<uint8_t>(0xff << (8 - rem));
    return (a[full] & m) == (b[full] & m);
}

}  // namespace

Ipv6Net Ipv6Net::network() const {
    Ipv6Net n = *this;
    for (int i = 0; i < 16; ++i) {
        int bits = prefix - i * 8;
        if (bits >= 8) continue;
        n.addr[i] &= bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
    }
    return n;
}

base::Result<uint32_t> parse_ipv4(std::string_view text) {
    std::string s(text);
    in_addr a{};
    if (::inet_pton(AF_INET, s.c_str(), &a) != 1)
        return base::make_error(std::errc::invalid_argument, "invalid IPv4 address " + s);
    return ntohl(a.s_addr);
}

base::Result<Ipv4Net> parse_ipv4_cidr(std::string_view text, std::optional<uint8_t> default_prefix) {
    return parse_cidr<decltype(&parse_ipv4), Ipv4Net>(text, default_prefix, 32, &parse_ipv4);
}

base::Result<Ipv6Net> parse_ipv6_cidr(std::string_view text, std::optional<uint8_t> default_prefix) {
    return parse_cidr<decltype(&parse_ipv6), Ipv6Net>(text, default_prefix, 128, &parse_ipv6);
}

std::string ipv4_to_string(uint32_t addr) {
    in_addr a{htonl(addr)};
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

std::string ipv6_addr_to_string(const std::array<uint8_t, 16>& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
    return buf;
}

std::string to_string(const Ipv4Net& n) { return ipv4_to_string(n.addr) + "/" + std::to_string(n.prefix); }
std::string to_string(const Ipv6Net& n) { return ipv6_addr_to_string(n.addr) + "/" + std::to_string(n.prefix); }

bool overlaps(const Ipv4Net& a, const Ipv4Net& b) {
    uint8_t p = std::min(a.prefix, b.prefix);
    Ipv4Net shorter{a.addr, p};
    return shorter.contains(b.addr);
}

bool overlaps(const Ipv6Net& a, const Ipv6Net& b) {
    return v6_prefix_equal(a.addr, b.addr, std::min(a.prefix, b.prefix));
}

uint64_t stable_hash(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

std::optional<Ipv4Net> choose_ipv4_subnet(const std::vector<Ipv4Net>& used, std::string_view seed) {
    // 65536 candidates 10.x.y.0/24; an odd stride visits each exactly once.
    uint64_t h = stable_hash(seed);
    uint32_t start = static_cast<uint32_t>(h & 0xffff);
    uint32_t stride = static_cast<uint32_t>((h >> 16) & 0xffff) | 1;
    for (uint32_t i = 0; i < 65536; ++i) {
        uint32_t xy = (start + i * stride) & 0xffff;
        Ipv4Net cand{(10u << 24) | (xy << 8), 24};
        // Skip 10.0.0.0/24 and 10.255.255.0/24: commonly used by hand, and the edges of the block.
        if (xy == 0 || xy == 0xffff) continue;
        bool clash = false;
        for (const auto& u : used) {
            if (u.prefix == 0) continue;
            if (overlaps(cand, u)) {
                clash = true;
                break;
            }
        }
        if (!clash) return cand;
    }
    return std::nullopt;
}

std::optional<Ipv6Net> choose_ipv6_subnet(const std::vector<Ipv6Net>& used, std::string_view seed) {
    for (uint32_t attempt = 0; attempt < 4096; ++attempt) {
        uint64_t h = stable_hash(std::string(seed) + "#" + std::to_string(attempt));
        Ipv6Net cand;
        cand.prefix = 64;
        cand.addr[0] = 0xfd;
        cand.addr[1] = 0x42;
        for (int i = 0; i < 6; ++i) cand.addr[2 + i] = static_cast<uint8_t>(h >> (8 * i));
        bool clash = false;
        for (const auto& u : used) {
            if (u.prefix == 0) continue;
            if (overlaps(cand, u)) {
                clash = true;
                break;
            }
        }
        if (!clash) return cand;
    }
    return std::nullopt;
}

namespace {

void add_prefix(UsedNetworks& out, nl_addr* a, int prefix) {
    if (!a || prefix <= 0) return;
    if (nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == 4) {
        uint32_t v;
        std::memcpy(&v, nl_addr_get_binary_addr(a), 4);
        out.v4.push_back(Ipv4Net{ntohl(v), static_cast<uint8_t>(prefix)}.network());
    } else if (nl_addr_get_family(a) == AF_INET6 && nl_addr_get_len(a) == 16) {
        Ipv6Net n;
        std::memcpy(n.addr.data(), nl_addr_get_binary_addr(a), 16);
        n.prefix = static_cast<uint8_t>(prefix);
        out.v6.push_back(n.network());
    }
}

}  // namespace

base::Result<UsedNetworks> read_used_networks() {
    LXM_TRY(auto sock, nl_route_connect());
    UsedNetworks out;

    nl_cache* raw = nullptr;
    if (int err = rtnl_route_alloc_cache(sock.get(), AF_UNSPEC, 0, &raw); err < 0)
        return nl_error(err, "dump routes");
    NlCache routes(raw);
    for (nl_object* o = nl_cache_get_first(routes.get()); o; o = nl_cache_get_next(o)) {
        auto* r = reinterpret_cast<rtnl_route*>(o);
        nl_addr* dst = rtnl_route_get_dst(r);
        if (dst) add_prefix(out, dst, nl_addr_get_prefixlen(dst));
    }

    raw = nullptr;
    if (int err = rtnl_addr_alloc_cache(sock.get(), &raw); err < 0) return nl_error(err, "dump addresses");
    NlCache addrs(raw);
    for (nl_object* o = nl_cache_get_first(addrs.get()); o; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        nl_addr* local = rtnl_addr_get_local(a);
        int plen = rtnl_addr_get_prefixlen(a);
        // A /32 (or /128) address still occupies its own address.
        add_prefix(out, local, plen);
        nl_addr* peer = rtnl_addr_get_peer(a);
        if (peer) add_prefix(out, peer, plen);
    }
    return out;
}

}  // namespace lxm::netd
