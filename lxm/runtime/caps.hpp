// Capabilities: which capabilities a container loses from its bounding set,
// name parsing, and the child-side drop.
//
// Defaults follow Incus (driver_lxc.go): a privileged container (no user
// namespace) drops sys_time, sys_module, sys_rawio, mac_admin and mac_override
// (mac_* because this host has no AppArmor stacking); an unprivileged container
// drops nothing, since its capabilities only act inside its user namespace and
// these five are checked against the initial namespace anyway. (LXC's
// common.conf drops the same five for every container; Incus users see the full
// bounding set in unprivileged containers, and nested runtimes expect it.)
#pragma once

#include <sys/capability.h>

#include <string>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::runtime {

std::vector<cap_value_t> default_cap_drop(bool privileged);

// Accepts "sys_admin", "SYS_ADMIN", "cap_sys_admin" and "CAP_SYS_ADMIN".
// Unknown names are an error naming the capability; numbers are not accepted.
lxm::base::Result<std::vector<cap_value_t>> parse_cap_names(const std::vector<std::string>& names);

// "cap_sys_admin" (libcap's name), or the number for one libcap does not know.
std::string cap_name(cap_value_t cap);

// Child side, before exec: for each capability, PR_CAPBSET_DROP it from the
// bounding set, lower it in the ambient set and clear it from the inheritable
// set (so no exec can get it back). Needs CAP_SETPCAP in the current user
// namespace. A capability the running kernel does not know (above
// /proc/sys/kernel/cap_last_cap) is skipped: it cannot be held anyway.
lxm::base::Result<void> drop_bounding_set(const std::vector<cap_value_t>& caps);

}  // namespace lxm::runtime
