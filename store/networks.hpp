// Managed networks (bridges) with their config and lifecycle status.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/config_maps.hpp"
#include "store/sqlite.hpp"

namespace lxm::store {

struct NetworkRecord {
    int64_t id = 0;
    std::string name;
    std::string type = "bridge";
    std::string description;
    std::string status = "pending";  // pending | created | errored
    ConfigMap config;

    bool operator==(const NetworkRecord&) const = default;
};

Result<int64_t> create_network(Transaction& tx, const NetworkRecord& rec);
Result<NetworkRecord> get_network(Transaction& tx, std::string_view name);
Result<std::vector<std::string>> list_network_names(Transaction& tx);
Result<std::vector<NetworkRecord>> list_networks(Transaction& tx);  // 2 queries
// Replace type, description, status and config of rec.name.
Result<void> update_network(Transaction& tx, const NetworkRecord& rec);
Result<void> set_network_status(Transaction& tx, std::string_view name, std::string_view status);
Result<void> rename_network(Transaction& tx, std::string_view name, std::string_view new_name);
Result<void> delete_network(Transaction& tx, std::string_view name);

}  // namespace lxm::store
