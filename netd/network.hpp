// NetworkManager: lxm's managed bridge networks, for the daemon core.
//
// A network is a bridge named like the network, with an IPv4 and/or IPv6
// address, lxm's nft rules (one table for all networks and port forwards,
// replaced atomically on every change) and a dnsmasq for DHCP/DNS. Config keys
// follow LXD:
//   ipv4.address      CIDR (bridge address, e.g. 10.1.2.1/24) | auto | none   (default auto)
//   ipv4.nat          true|false (default true)
//   ipv4.dhcp         true|false (default true)
//   ipv4.dhcp.ranges  "a.b.c.d-a.b.c.e[,...]" (default: the whole subnet after the bridge address)
//   ipv6.address      CIDR | auto | none  (default none: enabling IPv6 forwarding on a host
//                     that takes router advertisements would cost it its own IPv6 route)
//   ipv6.nat          true|false (default true when ipv6.address is set)
//   dns.domain        default "lxm"
//   bridge.mtu        default 1500
//   routed.networks   lxm-specific: comma-separated managed networks whose containers may reach
//                     this one's (forwarding between two lxm bridges is dropped otherwise)
// plus free-form user.* keys. "auto" is resolved by fill_defaults()/create() to a
// concrete subnet that no host route or address uses; the caller stores the
// returned config so the choice is stable.
//
// State on disk (under Options::state_dir/<network>/): dnsmasq files and
// nics.json (the nic registry: MAC, static IPv4 and DNS name of each instance
// nic, so static leases survive daemon restarts). Port forwards are kept in
// Options::state_dir/forwards.json. Everything kernel-side (bridge, dnsmasq,
// rules) outlives the daemon: start() adopts what exists.
//
// Thread-safe (one mutex). Library code: no logging above debug; notices for
// the log (ip_forward switched on, a host firewall dropping forwarded traffic)
// are collected for the caller: take_notices().
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "netd/dnsmasq.hpp"
#include "netd/nft.hpp"
#include "netd/subnet.hpp"

namespace lxm::netd {

using ConfigMap = std::map<std::string, std::string>;  // same type as store::ConfigMap

// What the core needs to start a container with this nic.
struct NicAllocation {
    std::string network;
    std::string host_veth;    // "lxm<hash>": on the bridge, up; deleted by release_nic()
    std::string peer;         // "lxp<hash>": MAC and MTU already set; moved into the container
    std::string inside_name;  // "eth0" (the device's "name" key, else the device name)
    std::string mac;          // "00:16:3e:.." (the device's hwaddr, else stable_mac(instance, device))
    std::string ipv4;         // static address (device ipv4.address), "" for a dynamic lease
    unsigned mtu = 0;
    // The entry for runtime::Spec::net_links: "<peer>=<inside_name>".
    std::string net_link() const { return peer + "=" + inside_name; }
};

// An address seen inside a container (for lxm list / info).
struct InterfaceAddress {
    std::string interface;  // "eth0"
    std::string family;     // "inet" | "inet6"
    std::string address;    // "10.1.2.50"
    unsigned prefix = 0;
    std::string scope;      // "global" | "link" | "local"
};

// Addresses of every link in the network namespace of pid (via a netlink socket
// opened there; only the calling thread switches, and back at once). Loopback included.
base::Result<std::vector<InterfaceAddress>> addresses_in_netns(pid_t pid);

// Check keys and values (no kernel access). "auto" is accepted.
base::Result<void> validate_network_config(const std::string& name, const ConfigMap& config);

class NetworkManager {
public:
    struct Options {
        std::string state_dir;              // e.g. /var/lib/lxm/networks (created 0755)
        std::string nft_table = "lxm";      // tests use their own
        std::string dnsmasq_binary = "dnsmasq";
        std::string dnsmasq_user = "nobody";
        std::string dnsmasq_group = "nogroup";
    };

    explicit NetworkManager(Options opts);
    ~NetworkManager();
    NetworkManager(const NetworkManager&) = delete;
    NetworkManager& operator=(const NetworkManager&) = delete;

    // Validate and fill defaults; resolves "auto" addresses from the kernel's
    // routes/addresses (and avoiding the other networks this manager knows).
    base::Result<ConfigMap> fill_defaults(const std::string& name, const ConfigMap& config);

    // Create the network (bridge, addresses, rules, dnsmasq), all or nothing.
    // Returns the filled config to store. EEXIST when the manager or the kernel has it.
    base::Result<ConfigMap> create(const std::string& name, const ConfigMap& config);
    // On daemon start, for each stored network: make the kernel match config
    // (creating what is missing, adopting a running dnsmasq). Idempotent.
    base::Result<void> start(const std::string& name, const ConfigMap& config);
    // Apply a new config (re-addresses the bridge, restarts dnsmasq, re-syncs rules).
    // Returns the filled config to store.
    base::Result<ConfigMap> update(const std::string& name, const ConfigMap& config);
    // Delete the bridge, its dnsmasq, its rules and state. EBUSY while nics are
    // allocated on it unless force (their host veths are deleted too).
    base::Result<void> remove(const std::string& name, bool force = false);
    // Names of the networks the manager runs.
    std::vector<std::string> networks() const;
    // The filled config of a running network.
    base::Result<ConfigMap> config(const std::string& name) const;

    base::Result<std::vector<Lease>> leases(const std::string& name) const;

    // For a nic device (keys: network, name, hwaddr, ipv4.address, mtu) of an instance
    // about to start: a fresh veth pair, host end on the bridge, peer with MAC/MTU set,
    // and the instance's static lease / DNS name registered with dnsmasq.
    base::Result<NicAllocation> allocate_nic(const std::string& network, const std::string& instance,
                                             const std::string& device, const ConfigMap& device_config);
    // After the instance stops: delete the host veth if it still exists (absent is
    // success). The registration (static lease, name) stays until forget_instance().
    base::Result<void> release_nic(const std::string& network, const std::string& instance, const std::string& device);
    // After the instance is deleted (or renamed away): drop its registrations on all networks.
    base::Result<void> forget_instance(const std::string& instance);

    // Port forwards (proxy-device style), keyed by owner (e.g. "instance/device").
    // Replaces the owner's forwards and re-syncs the rules.
    base::Result<void> set_forwards(const std::string& owner, const std::vector<NftForward>& forwards);
    base::Result<void> remove_forwards(const std::string& owner);
    // Every owner's forwards (loaded from forwards.json on first use; no kernel access).
    base::Result<std::map<std::string, std::vector<NftForward>>> forwards();
    // The owner (other than except_owner) of a forward whose listen side overlaps f
    // (same protocol and port, same address or either a wildcard), else "".
    base::Result<std::string> forward_conflict(const NftForward& f, const std::string& except_owner);

    // For the daemon's loop: restart dead dnsmasqs. Returns the networks restarted.
    base::Result<std::vector<std::string>> check_and_restart();

    // Notices for the caller's log since the last call.
    std::vector<std::string> take_notices();

    // Stop tracking without touching the kernel (daemon shutdown: everything stays up).
    void detach();

private:
    struct Net;
    struct NicEntry {
        std::string instance;
        std::string device;
        std::string mac;
        std::string ipv4;
    };

    base::Result<ConfigMap> fill_locked(const std::string& name, const ConfigMap& config);
    base::Result<std::unique_ptr<Net>> build_net(const std::string& name, const ConfigMap& filled);
    base::Result<void> bring_up(Net& n, bool adopt);
    base::Result<void> sync_firewall();
    base::Result<void> load_forwards();  // forwards.json into forwards_, once
    base::Result<void> write_nics(Net& n);
    base::Result<void> load_nics(Net& n);
    base::Result<void> save_forwards();
    std::string conflict_locked(const NftForward& f, const std::string& except_owner) const;
    std::string net_dir(const std::string& name) const;

    Options opts_;
    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<Net>> nets_;
    std::map<std::string, std::vector<NftForward>> forwards_;
    std::vector<std::string> notices_;
    bool forwards_loaded_ = false;
};

}  // namespace lxm::netd
