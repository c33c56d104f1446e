// Safe tarball extraction (libarchive reads, lxm writes). Image tarballs are
// hostile input: every file is created through a directory fd resolved with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV) from the
// target root, so nothing can be written outside it whatever the entries say.
//   refused (the whole unpack fails): absolute paths, ".." components, entries
//     whose parent path goes through a symlink, hard links whose target is not
//     an earlier entry inside the tree, non-empty directories replaced by files;
//   skipped with a note: device nodes and sockets (containers get their /dev
//     from the runtime; LXD images carry none that matter);
//   kept as in the tarball: numeric owners (the image is unshifted), modes
//     including setuid, xattrs (security.capability after chown), mtimes,
//     symlinks (never followed), hard links, FIFOs, sparse files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::store {

struct UnpackOptions {
    // Only entries under this prefix ("rootfs" for a unified image), which is
    // stripped; empty: every entry. A leading "./" is ignored everywhere.
    std::string prefix;
    // Restore numeric owners and all xattrs (needs root). When false, owners
    // stay the caller's and xattrs that need privilege are skipped.
    bool same_owner = true;
};

struct UnpackReport {
    uint64_t entries = 0;
    uint64_t bytes = 0;
    std::vector<std::string> skipped;  // "dev/null: character device" ...
};

// Extract the tarball (any compression libarchive knows) into target_dir, which
// must exist (its own mode/owner are set from a "." / prefix entry if present).
base::Result<UnpackReport> unpack_tarball(const std::string& tarball, const std::string& target_dir,
                                          const UnpackOptions& opts = {});

// The content of one regular-file member (path compared after dropping "./"),
// at most limit bytes. ENOENT when absent.
base::Result<std::string> read_tar_member(const std::string& tarball, const std::string& member,
                                          size_t limit = 1024 * 1024);
// Regular-file members under a directory prefix ("templates"): name (without
// the prefix) -> content, each at most limit bytes.
base::Result<std::vector<std::pair<std::string, std::string>>> read_tar_members_under(
    const std::string& tarball, const std::string& prefix, size_t limit = 1024 * 1024);
// Whether the tarball has any entry under prefix/ (e.g. "rootfs").
base::Result<bool> tar_has_prefix(const std::string& tarball, const std::string& prefix);

}  // namespace lxm::store
