// The userspace relays of proxy devices with nat=false: one lxm-proxy process per
// device while the instance runs (netd/proxy_relay.hpp). Like the monitors they
// outlive lxmd: each relay keeps a record <run_dir>/proxy.<device>.json (pid, start
// time, addresses, the init pid it serves), and sync() adopts a relay whose record
// matches a live lxm-proxy serving that record, ends the ones no longer wanted and
// starts the missing ones. A relay also ends by itself when the init it serves exits
// (a stop, or a reboot inside: the next sync starts it again for the new init).
//
//   ProxyRelays relays(bin_dir + "/lxm-proxy", paths);
//   relays.sync("c1", {{"web", device}}, init_pid);   // running: these relays
//   relays.sync("c1", {}, 0);                          // stopped: none
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/proxy.hpp"

namespace lxm::core {

class ProxyRelays {
public:
    ProxyRelays(std::string relay_bin, StatePaths paths) : bin_(std::move(relay_bin)), paths_(std::move(paths)) {}

    // Make the instance's relays match want (nat=false devices by name), all serving
    // target_pid; target_pid 0 ends them all. A listen address that cannot be bound is
    // http 400 naming the device; the other devices are still handled.
    base::Result<void> sync(const std::string& instance, const std::map<std::string, ProxyDevice>& want, pid_t target_pid);

    // Listen addresses of the live relays of every instance, as ("instance/device", listen).
    std::vector<std::pair<std::string, ProxyEndpoint>> live_listens() const;

    // Whether the instance has relay records (live or stale).
    bool has_records(const std::string& instance) const { return !records(instance).empty(); }

    std::string record_path(const std::string& instance, const std::string& device) const;

private:
    std::map<std::string, std::string> records(const std::string& instance) const;  // device -> record path

    std::string bin_;
    StatePaths paths_;
};

}  // namespace lxm::core
