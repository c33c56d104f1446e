// Server-wide config keys (core.https_address, images.auto_update_interval, ...).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/config_maps.hpp"
#include "store/sqlite.hpp"

namespace lxm::store {

Result<ConfigMap> get_server_config(Transaction& tx);
// Replace the whole server config.
Result<void> replace_server_config(Transaction& tx, const ConfigMap& config);
// Set one key; nullopt removes it.
Result<void> set_server_config_key(Transaction& tx, std::string_view key, const std::optional<std::string>& value);

}  // namespace lxm::store
