// Names that users choose (instances, profiles, snapshots): validated before
// anything is created, with messages that say what is wrong.
#pragma once

#include <string_view>

#include "lxm/base/error.hpp"

namespace lxm::core {

// DNS label rules (LXD's ValidHostname): 1..63 characters of [a-zA-Z0-9-],
// not starting with a digit or '-', not ending with '-'. Errors are http 400.
base::Result<void> validate_instance_name(std::string_view name);
// Profiles and snapshots: 1..63 printable characters without '/', not "." or "..",
// no whitespace or control characters. Errors are http 400.
base::Result<void> validate_object_name(std::string_view kind, std::string_view name);

}  // namespace lxm::core
