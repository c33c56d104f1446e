// Instance snapshots: owned by their instance (deleted with it), with their
// own copy of config and devices as they were when taken.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/config_maps.hpp"
#include "store/sqlite.hpp"

namespace lxm::store {

struct SnapshotRecord {
    int64_t id = 0;
    std::string name;
    std::string description;
    int64_t created_at = 0;             // unix time, ns
    std::optional<int64_t> expires_at;  // unix time, ns; nullopt = never
    bool stateful = false;
    ConfigMap config;
    DeviceMap devices;

    bool operator==(const SnapshotRecord&) const = default;
};

// A snapshot that is due for deletion, with its instance.
struct ExpiredSnapshot {
    std::string project, instance, snapshot;
};

Result<int64_t> create_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                                const SnapshotRecord& rec);
Result<SnapshotRecord> get_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                                    std::string_view name);
// Oldest first (created_at, then id), in 3 queries.
Result<std::vector<SnapshotRecord>> list_snapshots(Transaction& tx, std::string_view project,
                                                   std::string_view instance);
// Snapshots of every instance of a project, by instance id, each list oldest
// first, in 3 queries whatever the number of instances (for listings).
Result<std::unordered_map<int64_t, std::vector<SnapshotRecord>>> list_project_snapshots(Transaction& tx,
                                                                                      std::string_view project);
// Replace description, expiry, config and devices of the snapshot rec.name.
Result<void> update_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                             const SnapshotRecord& rec);
Result<void> rename_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                             std::string_view name, std::string_view new_name);
Result<void> delete_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                             std::string_view name);
Result<std::vector<ExpiredSnapshot>> list_expired_snapshots(Transaction& tx, int64_t now);

}  // namespace lxm::store
