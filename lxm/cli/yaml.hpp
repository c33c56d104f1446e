// Reading YAML (yaml-cpp) for `config edit` / `profile edit`, as lxc does; writing is to_yaml()
// in format.hpp. JSON is YAML too, so JSON input works as well.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"

namespace lxm::cli {

using json = nlohmann::json;

// Plain scalars become bool/null/int/float when they read as such; quoted ones stay strings.
base::Result<json> parse_yaml(std::string_view text);
// Config and device values are strings on the wire (map[string]string): "limits.cpu: 2" → "2".
void stringify_config(json& writable);

}  // namespace lxm::cli
