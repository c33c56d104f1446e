// Joining the cgroups another process is in: exec'd commands go where the
// container's init is (e.g. init.scope under systemd), not into the payload
// root, which on cgroup v2 may not hold processes once init delegated it.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/runtime/cgroup.hpp"

namespace lxm::runtime {

// Host directories of the cgroups listed in /proc/<pid>/cgroup text, per hierarchy of the layout.
std::vector<std::string> cgroup_dirs_of(std::string_view proc_cgroup_text, const CgroupLayout& layout);

// Move pid into every cgroup that target is in. Fails if any hierarchy refuses.
base::Result<void> join_cgroups_of(pid_t target, pid_t pid, const CgroupLayout& layout);

}  // namespace lxm::runtime
