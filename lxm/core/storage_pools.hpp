// Storage pools for lxmd (LXD's /1.0/storage-pools): rows in store/storage kept
// in step with the opened drivers in DaemonState. JSON in LXD's shapes.
//
//   StoragePools pools(state);
//   pools.startup();   // pending rows of a killed create are dropped; the default
//                      // profile gets its root disk on the default pool
//
// Drivers: overlay (default), dir, btrfs. config.source: the pool's directory
// (created for overlay/dir when missing; must be on btrfs for btrfs); without
// it the pool lives in $LXM_DIR/storage-pools/<name> (not possible for btrfs
// unless $LXM_DIR is on btrfs). A pool with instances, or named by a profile's
// root disk, cannot be deleted (http 400); the default pool never.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"
#include "lxm/core/daemon_state.hpp"

namespace lxm::core {

class StoragePools {
public:
    explicit StoragePools(DaemonState& state) : state_(state) {}

    base::Result<void> startup();

    base::Result<std::vector<std::string>> names();
    base::Result<nlohmann::json> get(const std::string& name);
    base::Result<std::vector<nlohmann::json>> list();
    // body: {name, driver, description, config}
    base::Result<void> create(const nlohmann::json& body);
    // body: {description, config} (PUT: config replaced; source cannot change).
    base::Result<void> update(const std::string& name, const nlohmann::json& body);
    base::Result<void> remove(const std::string& name);
    // The writable part, for ETags.
    base::Result<nlohmann::json> etag_state(const std::string& name);
    // {space: {used, total}, inodes: {used, total}}
    base::Result<nlohmann::json> resources(const std::string& name);
    // Volumes: instance roots ("container"), their snapshots ("container", name
    // "c1/snap0"), images unpacked in the pool ("image", name the fingerprint).
    base::Result<std::vector<nlohmann::json>> volumes(const std::string& name);

private:
    base::Result<std::vector<std::string>> used_by(const std::string& name);
    base::Result<nlohmann::json> to_json(const std::string& name);

    DaemonState& state_;
};

}  // namespace lxm::core
