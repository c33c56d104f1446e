// Instance config keys: the allow-list lxm implements, value checks, and the
// translation of limits.* into runtime cgroup limits.
//
// Known keys (anything else is http 400):
//   limits.cpu           "N" (N >= 1): a CPU quota of N cpus
//   limits.memory        bytes with an optional unit: "512MiB", "1GB", "1048576"
//   limits.processes     N >= 1: pids.max
//   boot.autostart       true|false: start when lxmd starts (unset: restore the last state)
//   security.privileged  true|false: no user namespace (set at creation only)
//   snapshots.schedule, snapshots.schedule.stopped, snapshots.pattern, snapshots.expiry
//                        scheduled snapshots as LXD (lxm/core/snapshot_schedule.hpp)
//   user.*, environment.*, image.*   free-form (environment.NAME: NAME a valid variable name)
//   volatile.*           set by the server only
#pragma once

#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "lxm/base/error.hpp"
#include "lxm/runtime/spec.hpp"

namespace lxm::core {

using ConfigMap = std::map<std::string, std::string>;
using DeviceMap = std::map<std::string, std::map<std::string, std::string>>;

// Marker keys the server keeps while an instance is half-made or half-deleted
// (see instances.cpp); reconcile at startup finishes or undoes such instances.
inline constexpr std::string_view kCreatingKey = "volatile.lxm.creating";
inline constexpr std::string_view kDeletingKey = "volatile.lxm.deleting";
// Kept while a migration refresh rewrites a stopped instance's volume (lxm/core/migration_refresh.cpp):
// reconcile puts the volume back from the pool snapshot kRefreshSafetySnapshot and drops the
// snapshots the refresh added (their rows still carry kCreatingKey).
inline constexpr std::string_view kRefreshingKey = "volatile.lxm.refreshing";
inline constexpr std::string_view kRefreshSafetySnapshot = "migration refresh";

// Check keys and values of user-supplied config (profile or instance). volatile.*
// keys are refused here: callers that round-trip them use merge_user_config.
base::Result<void> validate_config(const ConfigMap& config);
// Devices: "nic" (needs netd, issue 5) and the root "disk" (path "/") are accepted; others are http 400.
base::Result<void> validate_devices(const DeviceMap& devices);

// The config to store after a PUT: the user's keys, with the server's volatile.*
// keys kept. Volatile keys in `user` are ignored: clients send back what GET showed,
// and lxc sends the source's after `copy --refresh` (the copy keeps its own state).
base::Result<ConfigMap> merge_user_config(const ConfigMap& current, const ConfigMap& user);

// "512MiB", "1GB", "100kB", "4096" -> bytes. invalid_argument on anything else.
base::Result<int64_t> parse_bytes(std::string_view text);
// "true"/"false"/"1"/"0"/"yes"/"no"/"on"/"off".
std::optional<bool> parse_bool(std::string_view text);
// "SIGRTMIN+3", "SIGUSR2", "USR2", "15" -> signal number.
base::Result<int> parse_signal(std::string_view text);

// limits.* of an expanded config as runtime limits (validated keys assumed).
base::Result<runtime::CgroupLimits> limits_from_config(const ConfigMap& expanded);

// Profiles applied in order, then the instance's own keys on top.
ConfigMap expand_config(const std::vector<const ConfigMap*>& layers);
DeviceMap expand_devices(const std::vector<const DeviceMap*>& layers);

}  // namespace lxm::core
