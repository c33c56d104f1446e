// Thin Result-returning wrappers over mount(2) and the new mount API
// (open_tree, mount_setattr, move_mount) used to assemble container roots.
#pragma once

#include <sys/types.h>

#include <string>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::runtime {

base::Result<void> mount_fs(const std::string& source, const std::string& target, const std::string& fstype,
                            unsigned long flags, const std::string& data = {});
// Bind mount (MS_REC when recursive); flags like MS_RDONLY|MS_NOSUID are applied by a remount.
base::Result<void> bind_mount(const std::string& source, const std::string& target, bool recursive,
                              unsigned long extra_flags = 0);
// Remount an existing bind mount with these flags (MS_BIND|MS_REMOUNT|flags).
base::Result<void> remount_bind(const std::string& target, unsigned long flags);
// umount2 with MNT_DETACH by default.
base::Result<void> unmount(const std::string& target, int flags = 2 /* MNT_DETACH */);

// A detached copy of the tree at path (open_tree OPEN_TREE_CLONE).
base::Result<base::UniqueFd> clone_tree(const std::string& path, bool recursive);
// Make a detached mount idmapped through the map of userns_fd.
base::Result<void> idmap_mount(int mount_fd, int userns_fd);
// Attach a detached mount at target.
base::Result<void> attach_mount(int mount_fd, const std::string& target);
// Overlay with one lower layer.
base::Result<void> mount_overlay(const std::string& lower, const std::string& upper, const std::string& work,
                                 const std::string& target);

// Is path the root of a mount (its mount id differs from its parent's)?
bool is_mount_point(const std::string& path);

}  // namespace lxm::runtime
