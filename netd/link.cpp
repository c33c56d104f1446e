#include "netd/link.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <sched.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>

#include "lxm/base/file.hpp"
#include "netd/netlink.hpp"
#include "netd/subnet.hpp"

namespace lxm::netd {
namespace {

std::string hash_hex(std::string_view instance, std::string_view device, int digits) {
    std::string key;
    key.append(instance).push_back('\0');
    key.append(device);
    uint64_t h = stable_hash(key);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return std::string(buf, buf + digits);
}

// Fetch a link object from the kernel; nullptr (no error) when it does not exist.
base::Result<RtnlLink> fetch(nl_sock* sock, const std::string& name) {
    if (!valid_link_name(name)) return base::make_error(std::errc::invalid_argument, "invalid link name '" + name + "'");
    rtnl_link* l = nullptr;
    int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &l);
    if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) return RtnlLink{};
    if (err < 0) return nl_error(err, "get link " + name);
    return RtnlLink(l);
}

base::Result<RtnlLink> fetch_existing(nl_sock* sock, const std::string& name) {
    LXM_TRY(auto l, fetch(sock, name));
    if (!l) return base::make_error(std::errc::no_such_device, "link " + name + " does not exist");
    return l;
}

std::string mac_to_string(nl_addr* a) {
    if (!a || nl_addr_get_len(a) != 6) return {};
    auto* b = static_cast<const uint8_t*>(nl_addr_get_binary_addr(a));
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
    return buf;
}

LinkInfo to_info(rtnl_link* l) {
    LinkInfo i;
    if (const char* n = rtnl_link_get_name(l)) i.name = n;
    i.index = rtnl_link_get_ifindex(l);
    i.mtu = rtnl_link_get_mtu(l);
    i.up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
    i.master = rtnl_link_get_master(l);
    if (const char* t = rtnl_link_get_type(l)) i.kind = t;
    i.mac = mac_to_string(rtnl_link_get_addr(l));
    return i;
}

// Apply a change built by fill() to an existing link.
template <typename Fill>
base::Result<void> change_link(nl_sock* sock, const std::string& name, std::string_view what, Fill fill) {
    LXM_TRY(auto orig, fetch_existing(sock, name));
    RtnlLink change(rtnl_link_alloc());
    if (!change) return base::make_error(std::errc::not_enough_memory, "rtnl_link_alloc");
    LXM_TRY_VOID(fill(change.get()));
    if (int err = rtnl_link_change(sock, orig.get(), change.get(), 0); err < 0)
        return nl_error(err, std::string(what) + " on " + name);
    return {};
}

base::Result<NlAddr> parse_nl_addr(const std::string& text, int family) {
    nl_addr* a = nullptr;
    if (int err = nl_addr_parse(text.c_str(), family, &a); err < 0) return nl_error(err, "parse address " + text);
    return NlAddr(a);
}

base::Result<RtnlAddr> build_addr(nl_sock* sock, const std::string& link, const std::string& cidr) {
    LXM_TRY(auto l, fetch_existing(sock, link));
    bool v6 = cidr.find(':') != std::string::npos;
    if (cidr.find('/') == std::string::npos)
        return base::make_error(std::errc::invalid_argument, "address " + cidr + " needs a prefix length");
    LXM_TRY(auto local, parse_nl_addr(cidr, v6 ? AF_INET6 : AF_INET));
    RtnlAddr a(rtnl_addr_alloc());
    if (!a) return base::make_error(std::errc::not_enough_memory, "rtnl_addr_alloc");
    rtnl_addr_set_ifindex(a.get(), rtnl_link_get_ifindex(l.get()));
    if (int err = rtnl_addr_set_local(a.get(), local.get()); err < 0) return nl_error(err, "set address " + cidr);
    rtnl_addr_set_prefixlen(a.get(), nl_addr_get_prefixlen(local.get()));
    if (v6) {
        rtnl_addr_set_flags(a.get(), IFA_F_NODAD);
    } else {
        LXM_TRY(auto net, parse_ipv4_cidr(cidr));
        if (net.prefix < 31) {
            uint32_t bcast = htonl(net.addr | ~net.mask());
            NlAddr b(nl_addr_build(AF_INET, &bcast, 4));
            if (b) rtnl_addr_set_broadcast(a.get(), b.get());
        }
    }
    return a;
}

}  // namespace

std::string host_veth_name(std::string_view instance, std::string_view device) {
    return "lxm" + hash_hex(instance, device, 12);
}

std::string peer_temp_name(std::string_view instance, std::string_view device) {
    return "lxp" + hash_hex(instance, device, 12);
}

std::string stable_mac(std::string_view instance, std::string_view device) {
    std::string h = hash_hex(instance, device, 16);
    return "00:16:3e:" + h.substr(0, 2) + ":" + h.substr(2, 2) + ":" + h.substr(4, 2);
}

bool valid_link_name(std::string_view name) {
    if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
    for (char c : name)
        if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
    return true;
}

base::Result<std::array<uint8_t, 6>> parse_mac(std::string_view text) {
    std::array<uint8_t, 6> out{};
    unsigned v[6];
    char tail;
    std::string s(text);
    if (s.size() != 17 ||
        std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return base::make_error(std::errc::invalid_argument, "invalid MAC address " + s);
    for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(v[i]);
    if (out[0] & 1) return base::make_error(std::errc::invalid_argument, "multicast MAC address " + s);
    return out;
}

base::Result<std::optional<LinkInfo>> get_link(const std::string& name) {
    LXM_TRY(auto sock, nl_route_connect());
    LXM_TRY(auto l, fetch(sock.get(), name));
    if (!l) return std::optional<LinkInfo>{};
    return std::optional<LinkInfo>{to_info(l.get())};
}

base::Result<std::vector<LinkInfo>> list_links() {
    LXM_TRY(auto sock, nl_route_connect());
    nl_cache* raw = nullptr;
    if (int err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw); err < 0) return nl_error(err, "dump links");
    NlCache cache(raw);
    std::vector<LinkInfo> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o))
        out.push_back(to_info(reinterpret_cast<rtnl_link*>(o)));
    return out;
}

base::Result<void> create_bridge(const std::string& name, unsigned mtu) {
    if (!valid_link_name(name)) return base::make_error(std::errc::invalid_argument, "invalid bridge name '" + name + "'");
    LXM_TRY(auto sock, nl_route_connect());
    RtnlLink l(rtnl_link_bridge_alloc());
    if (!l) return base::make_error(std::errc::not_enough_memory, "rtnl_link_bridge_alloc");
    rtnl_link_set_name(l.get(), name.c_str());
    if (mtu) rtnl_link_set_mtu(l.get(), mtu);
    if (int err = rtnl_link_add(sock.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
        return nl_error(err, "create bridge " + name);
    return {};
}

base::Result<void> create_veth(const std::string& host_name, const std::string& peer_name, unsigned mtu) {
    if (!valid_link_name(host_name) || !valid_link_name(peer_name))
        return base::make_error(std::errc::invalid_argument, "invalid veth names '" + host_name + "'/'" + peer_name + "'");
    LXM_TRY(auto sock, nl_route_connect());
    RtnlLink l(rtnl_link_veth_alloc());
    if (!l) return base::make_error(std::errc::not_enough_memory, "rtnl_link_veth_alloc");
    rtnl_link_set_name(l.get(), host_name.c_str());
    if (mtu) rtnl_link_set_mtu(l.get(), mtu);
    rtnl_link* peer = rtnl_link_veth_get_peer(l.get());  // takes a reference
    rtnl_link_set_name(peer, peer_name.c_str());
    if (mtu) rtnl_link_set_mtu(peer, mtu);
    rtnl_link_put(peer);
    if (int err = rtnl_link_add(sock.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
        return nl_error(err, "create veth " + host_name + "/" + peer_name);
    return {};
}

base::Result<void> delete_link(const std::string& name) {
    LXM_TRY(auto sock, nl_route_connect());
    LXM_TRY(auto l, fetch_existing(sock.get(), name));
    if (int err = rtnl_link_delete(sock.get(), l.get()); err < 0) return nl_error(err, "delete link " + name);
    return {};
}

base::Result<void> delete_link_if_exists(const std::string& name) {
    auto r = delete_link(name);
    if (!r && r.error().code == std::errc::no_such_device) return {};
    return r;
}

base::Result<void> set_link_up(const std::string& name, bool up) {
    LXM_TRY(auto sock, nl_route_connect());
    return change_link(sock.get(), name, up ? "set up" : "set down", [&](rtnl_link* c) -> base::Result<void> {
        if (up)
            rtnl_link_set_flags(c, IFF_UP);
        else
            rtnl_link_unset_flags(c, IFF_UP);
        return {};
    });
}

base::Result<void> set_mtu(const std::string& name, unsigned mtu) {
    LXM_TRY(auto sock, nl_route_connect());
    return change_link(sock.get(), name, "set mtu " + std::to_string(mtu), [&](rtnl_link* c) -> base::Result<void> {
        rtnl_link_set_mtu(c, mtu);
        return {};
    });
}

namespace {
base::Result<void> set_mac_on(nl_sock* sock, const std::string& name, const std::string& mac) {
    LXM_TRY(auto bytes, parse_mac(mac));
    return change_link(sock, name, "set mac " + mac, [&](rtnl_link* c) -> base::Result<void> {
        NlAddr a(nl_addr_build(AF_LLC, bytes.data(), bytes.size()));
        if (!a) return base::make_error(std::errc::not_enough_memory, "nl_addr_build");
        rtnl_link_set_addr(c, a.get());
        return {};
    });
}
}  // namespace

base::Result<void> set_mac(const std::string& name, const std::string& mac) {
    LXM_TRY(auto sock, nl_route_connect());
    return set_mac_on(sock.get(), name, mac);
}

base::Result<void> set_master(const std::string& name, const std::string& bridge) {
    LXM_TRY(auto sock, nl_route_connect());
    int master = 0;
    if (!bridge.empty()) {
        LXM_TRY(auto b, fetch_existing(sock.get(), bridge));
        master = rtnl_link_get_ifindex(b.get());
    }
    return change_link(sock.get(), name, "set master " + bridge, [&](rtnl_link* c) -> base::Result<void> {
        rtnl_link_set_master(c, master);
        return {};
    });
}

base::Result<void> add_address(const std::string& link, const std::string& cidr) {
    LXM_TRY(auto sock, nl_route_connect());
    LXM_TRY(auto a, build_addr(sock.get(), link, cidr));
    int err = rtnl_addr_add(sock.get(), a.get(), 0);
    if (err == -NLE_EXIST) return {};
    if (err < 0) return nl_error(err, "add address " + cidr + " to " + link);
    return {};
}

base::Result<void> del_address(const std::string& link, const std::string& cidr) {
    LXM_TRY(auto sock, nl_route_connect());
    LXM_TRY(auto a, build_addr(sock.get(), link, cidr));
    int err = rtnl_addr_delete(sock.get(), a.get(), 0);
    if (err == -NLE_NOADDR || err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return {};
    if (err < 0) return nl_error(err, "delete address " + cidr + " from " + link);
    return {};
}

base::Result<std::vector<std::string>> list_addresses(const std::string& link) {
    LXM_TRY(auto sock, nl_route_connect());
    LXM_TRY(auto l, fetch_existing(sock.get(), link));
    int ifindex = rtnl_link_get_ifindex(l.get());
    nl_cache* raw = nullptr;
    if (int err = rtnl_addr_alloc_cache(sock.get(), &raw); err < 0) return nl_error(err, "dump addresses");
    NlCache cache(raw);
    std::vector<std::string> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        if (rtnl_addr_get_ifindex(a) != ifindex) continue;
        nl_addr* local = rtnl_addr_get_local(a);
        if (!local) continue;
        char buf[INET6_ADDRSTRLEN] = {};
        if (!inet_ntop(nl_addr_get_family(local), nl_addr_get_binary_addr(local), buf, sizeof buf)) continue;
        out.push_back(std::string(buf) + "/" + std::to_string(rtnl_addr_get_prefixlen(a)));
    }
    return out;
}

base::Result<void> move_link_to_netns(const std::string& host_name, pid_t pid, const std::string& inside_name,
                                      const std::string& mac, unsigned mtu) {
    if (!valid_link_name(inside_name))
        return base::make_error(std::errc::invalid_argument, "invalid link name '" + inside_name + "'");
    LXM_TRY(auto sock, nl_route_connect());
    // In the caller's namespace: MAC and MTU, then the move.
    if (!mac.empty()) LXM_TRY_VOID(set_mac_on(sock.get(), host_name, mac));
    if (mtu) {
        LXM_TRY_VOID(change_link(sock.get(), host_name, "set mtu", [&](rtnl_link* c) -> base::Result<void> {
            rtnl_link_set_mtu(c, mtu);
            return {};
        }));
    }
    LXM_TRY(auto target, base::open_fd("/proc/" + std::to_string(pid) + "/ns/net", O_RDONLY | O_CLOEXEC));
    LXM_TRY_VOID(change_link(sock.get(), host_name, "move to netns of pid " + std::to_string(pid),
                             [&](rtnl_link* c) -> base::Result<void> {
                                 rtnl_link_set_ns_fd(c, target.get());
                                 return {};
                             }));

    LXM_TRY(auto inner, nl_route_connect_in_netns(pid));

    // In the container's namespace: rename, then up (a renamed link must be down first).
    if (inside_name != host_name) {
        LXM_TRY_VOID(change_link(inner.get(), host_name, "rename to " + inside_name, [&](rtnl_link* c) -> base::Result<void> {
            rtnl_link_set_name(c, inside_name.c_str());
            return {};
        }));
    }
    LXM_TRY_VOID(change_link(inner.get(), inside_name, "set up", [&](rtnl_link* c) -> base::Result<void> {
        rtnl_link_set_flags(c, IFF_UP);
        return {};
    }));
    return {};
}

LinkGuard& LinkGuard::operator=(LinkGuard&& o) noexcept {
    if (this != &o) {
        if (!name_.empty()) (void)delete_link_if_exists(name_);
        name_ = std::exchange(o.name_, {});
    }
    return *this;
}

LinkGuard::~LinkGuard() {
    if (!name_.empty()) (void)delete_link_if_exists(name_);
}

}  // namespace lxm::netd
