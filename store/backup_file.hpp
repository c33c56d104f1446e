// Instance backup files: each instance keeps a copy of its own definition
// (record, snapshots, and the profiles it applies, expanded) in a JSON file
// beside its rootfs, rewritten atomically whenever the definition changes.
// `lxmd --recover` reads them back and re-inserts the instances whose rows were
// lost. Database ids are not written: they mean nothing in another database.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/instances.hpp"
#include "store/profiles.hpp"
#include "store/snapshots.hpp"
#include "store/store.hpp"

namespace lxm::store {

inline constexpr std::string_view kBackupFileName = "backup.json";
inline constexpr int kBackupFormat = 1;

struct InstanceBackup {
    InstanceRecord instance;
    std::vector<SnapshotRecord> snapshots;  // oldest first
    std::vector<ProfileRecord> profiles;    // the instance's profiles, in apply order

    bool operator==(const InstanceBackup&) const = default;
};

nlohmann::json backup_to_json(const InstanceBackup& b);
Result<InstanceBackup> backup_from_json(const nlohmann::json& j);

// Read the instance, its snapshots and profiles from the database.
Result<InstanceBackup> collect_instance_backup(Transaction& tx, std::string_view project, std::string_view name);
// Write atomically (temp file, fsync, rename), mode 0600.
Result<void> write_backup_file(const std::string& path, const InstanceBackup& b);
Result<InstanceBackup> read_backup_file(const std::string& path);

struct RecoverReport {
    std::vector<InstanceRecord> recovered;                  // missing from the database, now inserted
    std::vector<std::string> present;                       // already in the database (project/name)
    std::vector<std::pair<std::string, base::Error>> failed;  // backup path and why
};

// For each backup file: when its instance is missing from the database, insert
// it with its snapshots (and any of its profiles that are missing), in one
// transaction per instance. Existing rows are never modified. With dry_run,
// report what would be recovered without writing. Errors in one file do not
// stop the others; the returned error is only for the store itself failing.
Result<RecoverReport> recover_instances(Store& store, const std::vector<std::string>& backup_paths,
                                        bool dry_run = false);

}  // namespace lxm::store
