// The overlay pool driver (the default): each image unpacked once under
// images/<fp>/rootfs (unshifted, shared), each instance an overlay upper/work
// pair owned by its host ids over it. Create and delete are O(1) in rootfs size;
// snapshots, restores and copies cost only the instance's own changes.
//
// Instance directory containers/<name>/:
//   upper/  work/    the overlay layers (upper owned by the instance's host root,
//                    with the image root's mode: lxm::runtime::prepare_overlay_dirs agrees)
//   image            the fingerprint the instance is over (empty: an empty root,
//                    whose lower is lower/ in the instance dir)
//   ids              "uid gid": the host ids owning upper/ (used to shift copies)
//   snapshots/<snap>/{upper/, image, ids}
#pragma once

#include <memory>
#include <string>

#include "store/pool_driver.hpp"

namespace lxm::store {

// The pool directory must exist with its layout (open_pool makes it).
std::unique_ptr<PoolDriver> make_overlay_pool(const std::string& path);

}  // namespace lxm::store
