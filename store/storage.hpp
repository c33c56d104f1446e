// Storage pools (driver + config) and their volumes. Deleting a pool deletes
// its volume rows: core refuses to delete a pool that still has volumes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/config_maps.hpp"
#include "store/sqlite.hpp"

namespace lxm::store {

struct StoragePoolRecord {
    int64_t id = 0;
    std::string name;
    std::string driver;  // dir, btrfs, ...
    std::string description;
    std::string status = "pending";  // pending | created | errored
    ConfigMap config;

    bool operator==(const StoragePoolRecord&) const = default;
};

struct StorageVolumeRecord {
    int64_t id = 0;
    std::string pool;
    std::string project = "default";
    std::string name;
    std::string type = "custom";  // container | virtual-machine | image | custom
    std::string content_type = "filesystem";  // filesystem | block
    std::string description;
    int64_t created_at = 0;  // unix ns
    ConfigMap config;

    bool operator==(const StorageVolumeRecord&) const = default;
};

Result<int64_t> create_storage_pool(Transaction& tx, const StoragePoolRecord& rec);
Result<StoragePoolRecord> get_storage_pool(Transaction& tx, std::string_view name);
Result<std::vector<std::string>> list_storage_pool_names(Transaction& tx);
Result<std::vector<StoragePoolRecord>> list_storage_pools(Transaction& tx);  // 2 queries
// Replace description, status and config (the driver never changes).
Result<void> update_storage_pool(Transaction& tx, const StoragePoolRecord& rec);
Result<void> delete_storage_pool(Transaction& tx, std::string_view name);

// Volumes are identified by (pool, project, type, name).
Result<int64_t> create_storage_volume(Transaction& tx, const StorageVolumeRecord& rec);
Result<StorageVolumeRecord> get_storage_volume(Transaction& tx, std::string_view pool, std::string_view project,
                                               std::string_view type, std::string_view name);
// All volumes of a pool (every project and type), 2 queries.
Result<std::vector<StorageVolumeRecord>> list_storage_volumes(Transaction& tx, std::string_view pool);
// Replace description and config.
Result<void> update_storage_volume(Transaction& tx, const StorageVolumeRecord& rec);
Result<void> rename_storage_volume(Transaction& tx, std::string_view pool, std::string_view project,
                                   std::string_view type, std::string_view name, std::string_view new_name);
Result<void> delete_storage_volume(Transaction& tx, std::string_view pool, std::string_view project,
                                   std::string_view type, std::string_view name);

}  // namespace lxm::store
