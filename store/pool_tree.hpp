// Pool drivers whose instances are whole trees (dir, btrfs): the image, each
// instance and each snapshot is a full, unshifted rootfs directory (the runtime
// idmaps it), so copies need no owner shifting. A backend says how a tree is
// made, cloned and removed:
//   dir:   mkdir, cp -a --reflink=auto, remove_tree
//   btrfs: subvolume create, snapshot (read-only for snapshots), subvolume destroy
//
// Layout: images/<fp>/{rootfs,.complete}, containers/<name>/{rootfs,image,ids},
// containers/<name>/snapshots/<snap>/{rootfs,image,ids}.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "lxm/base/error.hpp"
#include "store/pool_driver.hpp"

namespace lxm::store {

class TreeBackend {
public:
    virtual ~TreeBackend() = default;
    virtual std::string name() const = 0;
    // A new empty tree at path (its parent exists, path does not), mode 0755 owned by root.
    virtual base::Result<void> make_empty(const std::string& path) = 0;
    // A copy of the tree src at dst (dst does not exist). readonly: for snapshots (btrfs makes it read-only).
    virtual base::Result<void> clone(const std::string& src, const std::string& dst, bool readonly) = 0;
    // Remove a directory that may hold trees made by this backend.
    virtual base::Result<void> remove(const std::string& path) = 0;
    // Quotas (see PoolDriver::check_quota): default project quotas; btrfs: qgroups.
    virtual base::Result<void> check_quota(const std::string& pool_path) const;
    virtual base::Result<void> set_quota(const std::string& tree, std::optional<uint64_t> bytes);
};

std::unique_ptr<TreeBackend> make_dir_backend();
// ENOTSUP when path is not on btrfs.
base::Result<std::unique_ptr<TreeBackend>> make_btrfs_backend(const std::string& path);

// The pool directory must exist with its layout; empties tmp/ with the backend's remover.
base::Result<std::unique_ptr<PoolDriver>> make_tree_pool(const std::string& path, std::unique_ptr<TreeBackend> backend);

}  // namespace lxm::store
