// Files inside an instance (LXD's /1.0/instances/<n>/files?path=): every path
// is resolved through the instance's root fd with openat2(RESOLVE_IN_ROOT), so
// symlinks planted in the container resolve inside it, never on the host; the
// last component is never followed when writing (a symlink there is replaced
// only when a symlink is pushed, refused otherwise).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/core/instances.hpp"

namespace lxm::core {

struct FileEntry {
    std::string type;  // "file" | "directory" | "symlink"
    std::string content;                // file: its bytes; symlink: its target
    std::vector<std::string> entries;   // directory: names
    uint32_t uid = 0, gid = 0;          // as seen inside the container
    uint32_t mode = 0;                  // permission bits
};

struct FileWrite {
    std::string type = "file";  // "file" | "directory" | "symlink"
    std::string content;        // file bytes, or symlink target
    uint32_t uid = 0, gid = 0;  // inside the container
    int mode = -1;              // -1: 0644 for files, 0755 for directories
    bool append = false;        // X-LXD-write: append
};

inline constexpr size_t kMaxFileRead = 256u << 20;

// path must be absolute. Errors: http 400 for bad paths, 404 when missing.
base::Result<FileEntry> read_instance_path(const InstanceRoot& root, const std::string& path);
base::Result<void> write_instance_path(const InstanceRoot& root, const std::string& path, const FileWrite& w);
base::Result<void> delete_instance_path(const InstanceRoot& root, const std::string& path);

}  // namespace lxm::core
