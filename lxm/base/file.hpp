// Small file helpers with Result errors. Paths here are host paths that lxm
// controls; paths inside a container's rootfs go through safe_path.hpp.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::base {

Result<std::string> read_file(const std::string& path, size_t limit = 16 * 1024 * 1024);
// Write data (O_WRONLY|O_TRUNC, creating with mode when create is set).
Result<void> write_file(const std::string& path, std::string_view data, bool create = false,
                        mode_t mode = 0644);
// Write to a temp file beside path, fsync, rename over path.
Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);
Result<void> mkdir_p(const std::string& path, mode_t mode = 0755);
// Remove a tree; does not cross mount points (refuses to enter them).
Result<void> remove_tree(const std::string& path);
Result<UniqueFd> open_fd(const std::string& path, int flags, mode_t mode = 0);
bool path_exists(const std::string& path);

// Read and write all of a buffer, retrying on EINTR and short counts.
Result<void> write_all(int fd, std::string_view data);
Result<size_t> read_some(int fd, char* buf, size_t len);

}  // namespace lxm::base
