// Instance wire types (lxd:shared/api/instance.go, instance_state.go,
// instance_exec.go, instance_snapshot.go, instance_backup.go), LXD 5.0 field names.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lxm/apitypes/json_util.hpp"
#include "lxm/apitypes/status.hpp"
#include "lxm/apitypes/time.hpp"

namespace lxm::apitypes {

using ConfigMap = std::map<std::string, std::string>;
using DeviceMap = std::map<std::string, std::map<std::string, std::string>>;

struct InstanceStateCpu {
    int64_t usage = 0;  // nanoseconds
};
struct InstanceStateMemory {
    int64_t usage = 0;
    int64_t usage_peak = 0;
    int64_t swap_usage = 0;
    int64_t swap_usage_peak = 0;
};
struct InstanceStateDisk {
    int64_t usage = 0;
};
struct InstanceStateNetworkAddress {
    std::string family;  // "inet" | "inet6"
    std::string address;
    std::string netmask;
    std::string scope;  // "global" | "link" | "local"
};
struct InstanceStateNetworkCounters {
    int64_t bytes_received = 0;
    int64_t bytes_sent = 0;
    int64_t packets_received = 0;
    int64_t packets_sent = 0;
    int64_t errors_received = 0;
    int64_t errors_sent = 0;
    int64_t packets_dropped_outbound = 0;
    int64_t packets_dropped_inbound = 0;
};
struct InstanceStateNetwork {
    std::vector<InstanceStateNetworkAddress> addresses;
    InstanceStateNetworkCounters counters;
    std::string hwaddr;
    std::string host_name;
    int mtu = 0;
    std::string state;  // "up" | "down"
    std::string type;   // "broadcast" | "loopback" | ...
};

struct InstanceState {
    std::string status = "Stopped";
    StatusCode status_code = StatusCode::stopped;
    std::map<std::string, InstanceStateDisk> disk;
    InstanceStateMemory memory;
    std::map<std::string, InstanceStateNetwork> network;  // null on the wire when empty
    int64_t pid = 0;
    int64_t processes = 0;
    InstanceStateCpu cpu;
};

struct InstanceSnapshot {
    std::string architecture;
    ConfigMap config;
    Timestamp created_at = zero_time();
    DeviceMap devices;
    bool ephemeral = false;
    ConfigMap expanded_config;
    DeviceMap expanded_devices;
    Timestamp last_used_at = zero_time();
    std::string name;
    std::vector<std::string> profiles;
    bool stateful = false;
    int64_t size = -1;
    Timestamp expires_at = zero_time();
};

struct InstanceBackup {
    std::string name;
    Timestamp created_at = zero_time();
    Timestamp expires_at = zero_time();
    bool instance_only = false;
    bool optimized_storage = false;
};

struct Instance {
    std::string architecture;
    ConfigMap config;
    DeviceMap devices;
    bool ephemeral = false;
    std::vector<std::string> profiles;
    bool stateful = false;
    std::string description;
    Timestamp created_at = zero_time();
    ConfigMap expanded_config;
    DeviceMap expanded_devices;
    std::string name;
    std::string status = "Stopped";
    StatusCode status_code = StatusCode::stopped;
    Timestamp last_used_at = zero_time();
    std::string location = "none";
    std::string type = "container";
    std::string project = "default";
    // InstanceFull (recursion=2, extension container_full): written only when set.
    std::optional<InstanceState> state;
    std::optional<std::vector<InstanceSnapshot>> snapshots;
    std::optional<std::vector<InstanceBackup>> backups;
};

// PUT /1.0/instances/<n>; "restore" names a snapshot ("snap" or "inst/snap").
struct InstancePut {
    std::string architecture;
    ConfigMap config;
    DeviceMap devices;
    bool ephemeral = false;
    std::vector<std::string> profiles;
    std::string restore;
    bool stateful = false;
    std::string description;
};

struct InstanceSource {
    std::string type;  // "image" | "none" | "copy" | "migration"
    std::string certificate;
    std::string alias;
    std::string fingerprint;
    ConfigMap properties;
    std::string server;
    std::string secret;
    std::string protocol;
    std::string base_image;  // wire "base-image"
    std::string mode;        // "pull" | "push" | "relay"
    std::string operation;
    std::map<std::string, std::string> secrets;
    std::string source;  // copy: source instance name
    bool live = false;
    bool instance_only = false;
    bool container_only = false;
    bool refresh = false;
    std::string project;
    bool allow_inconsistent = false;
};

// POST /1.0/instances. profiles == nullopt means "not given" (LXD then applies "default");
// an explicit [] means no profile.
struct InstancesPost {
    std::string architecture;
    ConfigMap config;
    DeviceMap devices;
    bool ephemeral = false;
    std::optional<std::vector<std::string>> profiles;
    bool stateful = false;
    std::string description;
    std::string name;
    InstanceSource source;
    std::string instance_type;
    std::string type;  // "container" | "" (default container)
};

// PUT /1.0/instances/<n>/state
struct InstanceStatePut {
    std::string action;  // start | stop | restart | freeze | unfreeze
    int timeout = 0;     // seconds; -1 = wait forever
    bool force = false;
    bool stateful = false;
};

// POST /1.0/instances/<n>/exec
struct InstanceExecPost {
    std::vector<std::string> command;
    std::map<std::string, std::string> environment;
    bool interactive = false;
    bool wait_for_websocket = false;  // wire "wait-for-websocket"
    bool record_output = false;       // wire "record-output"
    int width = 0;
    int height = 0;
    uint32_t user = 0;
    uint32_t group = 0;
    std::string cwd;
};

// POST /1.0/instances/<n>/snapshots
struct InstanceSnapshotsPost {
    std::string name;
    bool stateful = false;
    std::optional<Timestamp> expires_at;  // null = no expiry given
};

// POST /1.0/instances/<n> (rename or migration)
struct InstancePost {
    std::string name;
    bool migration = false;
    bool live = false;
    bool instance_only = false;
    bool container_only = false;
    std::string pool;
    std::string project;
};

#define LXM_APITYPES_JSON(T)             \
    void to_json(json& j, const T& v);   \
    void from_json(const json& j, T& v);
LXM_APITYPES_JSON(InstanceStateCpu)
LXM_APITYPES_JSON(InstanceStateMemory)
LXM_APITYPES_JSON(InstanceStateDisk)
LXM_APITYPES_JSON(InstanceStateNetworkAddress)
LXM_APITYPES_JSON(InstanceStateNetworkCounters)
LXM_APITYPES_JSON(InstanceStateNetwork)
LXM_APITYPES_JSON(InstanceState)
LXM_APITYPES_JSON(InstanceSnapshot)
LXM_APITYPES_JSON(InstanceBackup)
LXM_APITYPES_JSON(Instance)
LXM_APITYPES_JSON(InstancePut)
LXM_APITYPES_JSON(InstanceSource)
LXM_APITYPES_JSON(InstancesPost)
LXM_APITYPES_JSON(InstanceStatePut)
LXM_APITYPES_JSON(InstanceExecPost)
LXM_APITYPES_JSON(InstanceSnapshotsPost)
LXM_APITYPES_JSON(InstancePost)
#undef LXM_APITYPES_JSON

}  // namespace lxm::apitypes
