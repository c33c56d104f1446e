// Links over netlink (libnl-route-3): bridges, veth pairs, MTU, MAC, addresses,
// and moving a veth peer into a container's network namespace. Everything acts
// in the calling thread's network namespace unless stated otherwise.
//
// Naming: host-side veths are "lxm" + 12 hex digits of a stable hash of
// (instance, device) — 15 chars, the kernel's IFNAMSIZ-1 limit; the peer starts
// as "lxp" + the same digits until it is renamed inside the container. MACs are
// 00:16:3e:xx:xx:xx (the Xen/LXD OUI) from the same hash.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::netd {

std::string host_veth_name(std::string_view instance, std::string_view device);
std::string peer_temp_name(std::string_view instance, std::string_view device);
std::string stable_mac(std::string_view instance, std::string_view device);
// 1..15 chars, no '/', ':', whitespace, not "." or "..".
bool valid_link_name(std::string_view name);
// "00:16:3e:aa:bb:cc" → bytes; rejects multicast MACs.
base::Result<std::array<uint8_t, 6>> parse_mac(std::string_view text);

struct LinkInfo {
    std::string name;
    int index = 0;
    unsigned mtu = 0;
    bool up = false;          // IFF_UP (administrative)
    int master = 0;           // ifindex of the bridge it is enslaved to, 0 if none
    std::string kind;         // "bridge", "veth", "" (e.g. lo)
    std::string mac;          // "aa:bb:cc:dd:ee:ff"
};

// nullopt when no such link.
base::Result<std::optional<LinkInfo>> get_link(const std::string& name);
base::Result<std::vector<LinkInfo>> list_links();

// Create a bridge (fails with EEXIST if the name is taken); mtu 0 keeps the default.
base::Result<void> create_bridge(const std::string& name, unsigned mtu = 0);
// Create a veth pair host_name <-> peer_name, both down; mtu 0 keeps the default.
base::Result<void> create_veth(const std::string& host_name, const std::string& peer_name, unsigned mtu = 0);
// Delete a link (a veth takes its peer with it). ENODEV when absent.
base::Result<void> delete_link(const std::string& name);
// Delete when present; absent is success.
base::Result<void> delete_link_if_exists(const std::string& name);

base::Result<void> set_link_up(const std::string& name, bool up = true);
base::Result<void> set_mtu(const std::string& name, unsigned mtu);
base::Result<void> set_mac(const std::string& name, const std::string& mac);
// Enslave to a bridge; an empty bridge name releases it.
base::Result<void> set_master(const std::string& name, const std::string& bridge);

// Add "10.0.3.1/24" or "fd42::1/64" to a link; already present is success.
// IPv4 gets the broadcast address of its prefix; IPv6 is added without DAD.
base::Result<void> add_address(const std::string& link, const std::string& cidr);
// Remove an address; absent is success.
base::Result<void> del_address(const std::string& link, const std::string& cidr);
// Addresses of a link as "addr/prefix" (global and link scope, both families).
base::Result<std::vector<std::string>> list_addresses(const std::string& link);

// The runtime side of a nic: move host_name (a veth peer in the caller's netns)
// into the network namespace of pid, and there rename it to inside_name, set
// mac (if not empty) and mtu (if not 0), and bring it up. MAC and MTU are set
// before the move. The in-namespace part uses a netlink socket opened inside
// the target namespace (a setns of the calling thread only, restored before
// returning). Errors name the step that failed.
base::Result<void> move_link_to_netns(const std::string& host_name, pid_t pid, const std::string& inside_name,
                                      const std::string& mac = {}, unsigned mtu = 0);

// Deletes the named link at scope exit unless released. Destructor never throws.
class LinkGuard {
public:
    LinkGuard() = default;
    explicit LinkGuard(std::string name) : name_(std::move(name)) {}
    LinkGuard(LinkGuard&& o) noexcept : name_(std::exchange(o.name_, {})) {}
    LinkGuard& operator=(LinkGuard&& o) noexcept;
    LinkGuard(const LinkGuard&) = delete;
    LinkGuard& operator=(const LinkGuard&) = delete;
    ~LinkGuard();
    const std::string& name() const { return name_; }
    std::string release() { return std::exchange(name_, {}); }

private:
    std::string name_;
};

}  // namespace lxm::netd
