// Networks: lxm's managed bridge networks for the daemon — the store rows
// (store/networks.hpp) kept in step with a netd::NetworkManager whose state
// lives in $LXM_DIR/networks. Like containers, bridges and dnsmasqs outlive
// lxmd: startup() adopts them, detach() leaves them running.
//
//   Networks nets(state, {.default_network = "lxmbr0"});
//   nets.startup();      // start stored networks; first start: create the default
//                        // network and an eth0 nic in the default profile
//   ... every few seconds: nets.check();   (restarts dead dnsmasqs, logs notices)
//   nets.detach();       // daemon shutdown
//
// Instances use allocate_nics()/release_nics()/forget_instance() around their
// monitor's life. Errors: user mistakes are http 400/404/409.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/apitypes/instance.hpp"
#include "lxm/base/error.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/proxy_relays.hpp"
#include "netd/network.hpp"
#include "store/config_maps.hpp"

namespace lxm::core {

struct NetworksOptions {
    std::string default_network = "lxmbr0";  // "" = none (no default network, no profile nic)
    std::string nft_table = "lxm";
};

class Networks {
public:
    Networks(DaemonState& state, NetworksOptions opts = {});
    ~Networks();  // detach(): the kernel side stays

    // Start every stored network; create the default network and the default
    // profile's eth0 on first start. Failures of single networks are logged.
    base::Result<void> startup();
    // Restart dead dnsmasqs; log what happened and the manager's notices.
    void check();
    void detach();

    // ---- API (LXD's /1.0/networks shapes, as JSON) ----
    base::Result<std::vector<std::string>> names();
    base::Result<nlohmann::json> get(const std::string& name);
    base::Result<std::vector<nlohmann::json>> list();
    // body: {name, description, type, config}
    base::Result<void> create(const nlohmann::json& body);
    // body: {description, config} (PUT semantics: config replaced).
    base::Result<void> update(const std::string& name, const nlohmann::json& body);
    base::Result<void> remove(const std::string& name);
    // POST /1.0/networks/<name> {name}: refused while in use (as LXD); the bridge and its
    // dnsmasq are made again under the new name with the same config.
    base::Result<void> rename(const std::string& name, const std::string& new_name);
    base::Result<nlohmann::json> leases(const std::string& name);
    // LXD's NetworkState of the bridge: addresses, counters, hwaddr, mtu, state, type.
    base::Result<nlohmann::json> state(const std::string& name);
    // The writable part, for ETags.
    base::Result<nlohmann::json> etag_state(const std::string& name);

    // ---- instances ----
    // For each nic device with "network" set: a veth pair on that network. On
    // failure the ones already made are released. Returns the allocations in device order.
    base::Result<std::vector<netd::NicAllocation>> allocate_nics(const std::string& instance,
                                                               const store::DeviceMap& devices);
    // After the instance stopped (absent veths are fine; failures are logged).
    void release_nics(const std::string& instance, const store::DeviceMap& devices);
    void forget_instance(const std::string& instance);
    // LXD's instance state "network" map for the container whose init is pid.
    std::map<std::string, apitypes::InstanceStateNetwork> state_network(pid_t pid);

    // ---- proxy devices (lxm/core/proxy.hpp) ----
    // Before a start or an update of a running instance: each proxy device parses and
    // listens where no other instance's forward or relay does, nor another of its own
    // devices (http 400 otherwise).
    base::Result<void> check_proxies(const std::string& instance, const store::DeviceMap& devices);
    // Make the instance's proxies match its proxy devices. While running: one DNAT forward
    // per nat=true proxy whose target address is known (a static ipv4.address, else the
    // nic's DHCP lease: check() adds it once the lease appears and follows it when it
    // changes) and one relay process per nat=false proxy (serving the init the monitor
    // reports; check() starts it again for a new init after a reboot inside). When not
    // running: none of either.
    base::Result<void> sync_proxies(const std::string& instance, const store::DeviceMap& devices, bool running);

    netd::NetworkManager& manager() { return *mgr_; }

private:
    // Address of the instance that a nat proxy's connect address names; nullopt while
    // the nic has no lease yet.
    base::Result<std::optional<std::string>> proxy_target(const std::string& instance, const store::DeviceMap& devices,
                                                           const std::string& connect_address);
    base::Result<void> sync_proxies_locked(const std::string& instance, const store::DeviceMap& devices, bool running);
    // The pid of the instance's init while its monitor reports it running, else 0.
    pid_t running_init_pid(const std::string& instance);
    // check(): sync_proxies for every instance. Whether it runs (its monitor socket exists)
    // is decided under proxy_mu_, so a stop that removes the proxies after its monitor
    // exited is never undone by a check that looked before.
    void sync_all_proxies();
    base::Result<std::vector<std::string>> used_by(const std::string& name);
    nlohmann::json to_json(const std::string& name, const std::string& type, const std::string& description,
                           const std::string& status, const store::ConfigMap& config,
                           const std::vector<std::string>& used_by) const;

    DaemonState& state_;
    NetworksOptions opts_;
    std::unique_ptr<netd::NetworkManager> mgr_;
    std::unique_ptr<ProxyRelays> relays_;
    std::mutex proxy_mu_;  // one sync_proxies at a time
};

}  // namespace lxm::core
