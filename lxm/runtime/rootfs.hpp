// Monitor side: the container's root is assembled in the monitor's own
// private mount namespace, so nothing of it is ever visible on the host and
// it all goes away with the monitor.
//
// Unprivileged: the image (unshifted, owned by 0 on disk, shared) is cloned as
// a detached mount, idmapped through the container's map, and used as the
// lower layer of an overlay whose upper directory holds the container's own
// changes, owned on disk by its host ids. No chown walk, O(1) in rootfs size.
#pragma once

#include <string>

#include "lxm/base/error.hpp"
#include "lxm/runtime/spec.hpp"

namespace lxm::runtime {

// unshare(CLONE_NEWNS) and make every mount a slave of the host's.
base::Result<void> enter_private_mount_ns();

// Build the root at <run_dir>/rootfs; returns that path. userns_fd carries the
// id map (ignored for privileged specs).
base::Result<std::string> assemble_rootfs(const Spec& spec, int userns_fd);

// Create upper and work dirs for an overlay instance, upper owned by (uid, gid)
// with the mode of the lower root, so "/" inside looks like the image's.
base::Result<void> prepare_overlay_dirs(const std::string& lower, const std::string& upper,
                                        const std::string& work, uid_t uid, gid_t gid);

}  // namespace lxm::runtime
