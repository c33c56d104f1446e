// Paths inside a container's rootfs are hostile input: resolve them through a
// directory fd with openat2(RESOLVE_IN_ROOT), never by joining strings.
#pragma once

#include <sys/types.h>

#include <string>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::base {

// Open rel (absolute or relative, interpreted inside root_fd) with symlinks
// resolved as if root_fd were "/". flags as for open(2); O_CLOEXEC is added.
Result<UniqueFd> open_in_root(int root_fd, const std::string& rel, int flags, mode_t mode = 0);
// Same, but refuses any symlink on the way (for mount targets).
Result<UniqueFd> open_in_root_nofollow(int root_fd, const std::string& rel, int flags, mode_t mode = 0);
// Create the directories of rel inside root_fd (no symlinks followed); returns an O_PATH fd of the last.
Result<UniqueFd> mkdir_in_root(int root_fd, const std::string& rel, mode_t mode = 0755);
// "/proc/self/fd/N": a path for mount(2) that names exactly this fd's file.
std::string fd_path(int fd);

}  // namespace lxm::base
