// Re-plugging a nic into a container whose network namespace was replaced.
//
// A veth pair dies with the network namespace that holds one end: when init
// reboots inside the container (lxm-monitor starts init again in a fresh set of
// namespaces) the nic lxmd allocated at start is gone. lxmd writes a plug file
// (<instance run dir>/nics.json) describing each nic; the monitor's network hook
// calls plug_nic(), which recreates the pair on the bridge when the peer is
// missing and moves it into init's netns, so every boot of the container gets
// the same nic (name, MAC, MTU, bridge — and so the same DHCP/static lease).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::netd {

struct NicPlug {
    std::string host_veth;    // "lxm<hash>" on the bridge
    std::string peer;         // "lxp<hash>" until renamed inside
    std::string inside_name;  // "eth0"
    std::string bridge;       // the network's bridge
    std::string mac;
    unsigned mtu = 0;
};

base::Result<void> write_nic_plugs(const std::string& path, const std::vector<NicPlug>& plugs);
// A missing file is an empty list.
base::Result<std::vector<NicPlug>> read_nic_plugs(const std::string& path);

// Create the pair (host end up on the bridge, peer with MAC/MTU) when the peer
// does not exist in the caller's netns (a stale host end is replaced), then move
// the peer into the netns of pid as inside_name.
base::Result<void> plug_nic(const NicPlug& plug, pid_t pid);

}  // namespace lxm::netd
