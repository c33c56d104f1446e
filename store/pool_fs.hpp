// Filesystem helpers shared by the pool drivers: name checks, temp dirs inside
// the pool (same filesystem, so the last step of every build is one rename),
// tree copies that keep owners/modes/xattrs/device nodes, owner shifts, usage.
// Paths here are pool paths lxm controls; the trees walked are hostile
// content (written by containers), so walks never follow symlinks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lxm/base/error.hpp"
#include "store/pool_driver.hpp"

namespace lxm::store::poolfs {

// Instance, snapshot and image names: non-empty, at most 255 bytes, no '/',
// no NUL, not starting with '.'.
base::Result<void> check_name(const std::string& kind, const std::string& name);

// A fresh empty directory <pool>/tmp/<kind>-XXXXXX (mode 0711).
base::Result<std::string> make_temp_dir(const std::string& pool, const std::string& kind);
// Removes a tree (base::remove_tree by default; btrfs destroys subvolumes).
using Remover = std::function<base::Result<void>(const std::string& path)>;
// Remove everything in <pool>/tmp (leftovers of a killed build or delete).
base::Result<void> clean_temp(const std::string& pool, const Remover& remove = {});

// rename(2) that fails with EEXIST when `to` exists (even as an empty dir).
base::Result<void> rename_noreplace(const std::string& from, const std::string& to);
// Atomically swap two paths (renameat2 RENAME_EXCHANGE).
base::Result<void> rename_exchange(const std::string& a, const std::string& b);
// Move `path` into <pool>/tmp under a fresh name and remove it there. Once the
// rename is done the path is gone, even if the removal fails (the rest goes at
// the next clean_temp).
base::Result<void> discard(const std::string& pool, const std::string& path, const Remover& remove = {});

// Copy the tree src to dst (which must not exist): owners, modes, times,
// xattrs (trusted.overlay.*, security.capability), device nodes (overlay
// whiteouts), symlinks as they are. Reflinks where the filesystem can.
base::Result<void> copy_tree(const std::string& src, const std::string& dst);

// Remove everything inside dir (the directory itself stays).
base::Result<void> clear_dir(const std::string& dir);

// Make dst (an existing, empty directory) hold what src holds, with src's own mode and owner:
// entries are renamed (same filesystem) or copied with copy_tree where a rename cannot cross
// (btrfs subvolumes, another pool). When shift is set and not 0, owners in [0, range) of the
// result get shift added (shift_tree).
base::Result<void> move_tree_into(const std::string& src, const std::string& dst, std::optional<uid_t> shift,
                                  uint32_t range);

// Rewrite owners in a tree: ids in [from, from + range) become id - from + to
// (uids and gids separately); other ids are left alone. Keeps setuid/setgid
// bits and file capabilities (shifting a v3 capability's root id the same way).
inline constexpr uint32_t kIdRange = 65536;
base::Result<void> shift_tree(const std::string& root, uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid,
                              uint32_t range = kIdRange);

// Bytes allocated by a tree (st_blocks), each inode once; does not cross mounts.
base::Result<uint64_t> tree_usage(const std::string& root);

// Used and total bytes of the filesystem holding path (statvfs).
base::Result<PoolUsage> fs_usage(const std::string& path);

// Small text files of the pool layout (one value, trimmed).
base::Result<std::string> read_value(const std::string& path);
base::Result<void> write_value(const std::string& path, const std::string& value);

}  // namespace lxm::store::poolfs
