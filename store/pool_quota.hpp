// Disk quotas for pool drivers: filesystem project quotas (ext4/xfs mounted
// with prjquota; used by the overlay and dir drivers) and btrfs qgroup limits
// (the btrfs driver). Both need CAP_SYS_ADMIN.
//
// Project quotas: a tree gets a project id (its top directory's inode number,
// unique on the filesystem while the directory lives, kept across renames) on
// every inode plus the inherit flag on directories, so files made later count
// too; the limit is a hard block limit of that project.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lxm/base/error.hpp"

namespace lxm::store::quota {

// OK when the filesystem holding path enforces project quotas; ENOTSUP with
// the reason otherwise.
base::Result<void> project_quota_supported(const std::string& path);
// Tag the tree at dir with its project id and set (or with nullopt lift) its limit.
base::Result<void> set_project_quota(const std::string& dir, std::optional<uint64_t> bytes);
// Bytes the project of dir uses (from the quota accounting).
base::Result<uint64_t> project_usage(const std::string& dir);

// Turn on qgroups on the btrfs filesystem holding path (idempotent).
base::Result<void> btrfs_enable_quota(const std::string& path);
// Limit the referenced bytes of the subvolume at subvol (nullopt: no limit).
base::Result<void> btrfs_limit_subvolume(const std::string& subvol, std::optional<uint64_t> bytes);

}  // namespace lxm::store::quota
