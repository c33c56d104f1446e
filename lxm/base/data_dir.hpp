// Where lxm finds its data files (templates/: seccomp policy, AppArmor profile
// template, image recipes): the installed data dir first, then the source tree.
#pragma once

#include <string>
#include <string_view>

namespace lxm::base {

// rel is relative to the data dir, e.g. "templates/seccomp/default.json".
// Looks in $LXM_DATA_DIR (environment override), then the configured install
// data dir (LXM_DATA_DIR at build time), then the source tree (LXM_SOURCE_DIR).
// Returns the first existing path; when none exists, the install path (so the
// caller's read fails with a path that says where the file was expected).
std::string find_data_file(std::string_view rel);

}  // namespace lxm::base
