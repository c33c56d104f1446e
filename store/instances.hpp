// Instances: one row each, with config, devices and the ordered list of
// profiles applied to them. Names are unique per project.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/config_maps.hpp"
#include "store/sqlite.hpp"

namespace lxm::store {

struct InstanceRecord {
    int64_t id = 0;  // assigned by create; ignored by create and update
    std::string project = "default";
    std::string name;
    std::string type = "container";  // container | virtual-machine
    std::string architecture;
    std::string description;
    bool ephemeral = false;
    bool stateful = false;
    std::string status_wanted = "stopped";  // running | stopped: what reconcile/autostart restores
    int64_t created_at = 0;                 // unix time, ns
    int64_t last_used_at = 0;               // unix time, ns; 0 = never
    std::string image_fingerprint;          // image it was made from, "" if none
    std::string storage_pool;               // pool of its root volume
    std::optional<int64_t> idmap_base;      // allocated host id range (persistent across restarts)
    std::optional<int64_t> idmap_size;
    ConfigMap config;
    DeviceMap devices;
    std::vector<std::string> profiles;  // in apply order; must exist in the same project

    bool operator==(const InstanceRecord&) const = default;
};

// Returns the new id. std::errc::file_exists if the name is taken in the
// project (or the id range is), no_such_file_or_directory if a profile is missing.
Result<int64_t> create_instance(Transaction& tx, const InstanceRecord& rec);
Result<InstanceRecord> get_instance(Transaction& tx, std::string_view project, std::string_view name);
Result<int64_t> instance_id(Transaction& tx, std::string_view project, std::string_view name);
Result<std::vector<std::string>> list_instance_names(Transaction& tx, std::string_view project);
// Full records of one project (or every project when nullopt), sorted by
// project then name, in a constant number of queries (4) whatever their count.
Result<std::vector<InstanceRecord>> list_instances(Transaction& tx,
                                                   std::optional<std::string_view> project = std::nullopt);
// Replace everything of the instance named rec.project/rec.name except id,
// name and created_at: columns, config, devices and profiles, atomically.
Result<void> update_instance(Transaction& tx, const InstanceRecord& rec);
Result<void> set_instance_status_wanted(Transaction& tx, std::string_view project, std::string_view name,
                                        std::string_view status);
Result<void> set_instance_last_used(Transaction& tx, std::string_view project, std::string_view name,
                                    int64_t last_used_at);
Result<void> rename_instance(Transaction& tx, std::string_view project, std::string_view name,
                             std::string_view new_name);
// Deletes config, devices, profile links and snapshots with it.
Result<void> delete_instance(Transaction& tx, std::string_view project, std::string_view name);

// Lowest base >= first such that [base, base+size) overlaps no allocated
// instance range and ends at or before limit; no_space_on_device when full.
Result<int64_t> allocate_idmap_base(Transaction& tx, int64_t first, int64_t size, int64_t limit);

}  // namespace lxm::store
