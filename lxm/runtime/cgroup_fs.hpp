// Small file-system helpers shared by the cgroup drivers (internal to lxm/runtime).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::runtime::cgroup_fs {

// Contents of dir/name without the trailing newline.
base::Result<std::string> read(const std::string& dir, const std::string& name);
// One write(2) of value and a newline to dir/name (cgroup files take a value per write).
base::Result<void> write(const std::string& dir, const std::string& name, std::string_view value);
bool exists(const std::string& dir, const std::string& name);

// Names of the sub-directories (child cgroups) of dir.
base::Result<std::vector<std::string>> subdirs(const std::string& dir);
// Every pid in cgroup.procs of dir and its descendants, sorted and unique.
base::Result<std::vector<pid_t>> subtree_pids(const std::string& dir);
// rmdir dir and its descendants, deepest first; a missing dir is fine. EBUSY says processes remain.
base::Result<void> remove_tree(const std::string& dir);

// The value of key in a "key value" per line file (cgroup.events, cpu.stat, memory.stat).
std::optional<std::string> keyed_value(std::string_view text, std::string_view key);
// Parses a non-negative decimal integer (the whole string).
std::optional<uint64_t> parse_u64(std::string_view s);

// Calls check until it returns true, an error, or timeout passes (then timed_out naming what).
base::Result<void> wait_until(const std::function<base::Result<bool>()>& check,
                              std::chrono::milliseconds timeout, const std::string& what);

}  // namespace lxm::runtime::cgroup_fs
