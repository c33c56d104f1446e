// Writing tar entries with libarchive, shared by image packing (archive_pack)
// and instance backups/migration streams (lxm/core/backup_tar).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "lxm/base/error.hpp"

struct archive;
struct archive_entry;

namespace lxm::store {

struct ArchiveReadDeleter {
    void operator()(struct archive* a) const;
};
struct ArchiveWriteDeleter {
    void operator()(struct archive* a) const;
};
struct ArchiveEntryDeleter {
    void operator()(struct archive_entry* e) const;
};
using ArchiveRead = std::unique_ptr<struct archive, ArchiveReadDeleter>;
using ArchiveWrite = std::unique_ptr<struct archive, ArchiveWriteDeleter>;
using ArchiveEntry = std::unique_ptr<struct archive_entry, ArchiveEntryDeleter>;

// The archive's last error as an Error (errno when libarchive has one), prefixed with what.
base::Unexpected archive_failure(struct archive* a, const std::string& what);

// A regular file with data / a directory, owned by root, stamped now.
base::Result<void> tar_add_file(struct archive* out, const std::string& name, const std::string& data, mode_t mode);
base::Result<void> tar_add_dir(struct archive* out, const std::string& name, mode_t mode);

// Every entry below dir (dir itself as prefix), symlinks stored as links, mounts not
// crossed, sockets left out, hard links kept, numeric owners only; owners in
// [shift_base, shift_base + shift_size) are shifted down by shift_base (0 size: as on disk).
// dir may be a symlink to a directory (/proc/self/fd/N of a detached mount).
// Returns the bytes of file data written.
base::Result<uint64_t> tar_add_tree(struct archive* out, const std::string& dir, const std::string& prefix,
                                    uint32_t shift_base = 0, uint32_t shift_size = 0);

}  // namespace lxm::store
