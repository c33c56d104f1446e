// Key/value config and devices, shared by every table that has them
// (instances, snapshots, profiles, networks, pools, volumes, image properties).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "store/sqlite.hpp"

namespace lxm::store {

using ConfigMap = std::map<std::string, std::string>;
// Device name -> its keys; the device's "type" is one of the keys, as in the LXD API.
using DeviceMap = std::map<std::string, ConfigMap>;

namespace detail {

// A config table, e.g. {"instances_config", "instance_id"}. Names are
// constants from store/ code, never user input: they are pasted into SQL.
struct ConfigTable {
    std::string_view table;
    std::string_view owner;
};
// e.g. {"instances_devices", "instances_devices_config", "instance_id"};
// the config table's column pointing at the device is always device_id.
struct DeviceTables {
    std::string_view devices;
    std::string_view config;
    std::string_view owner;
};

using Param = std::variant<std::nullptr_t, int64_t, std::string>;
Result<void> bind_params(Statement& st, const std::vector<Param>& params);

// Config of every owner whose id is returned by owner_ids_sql (a SELECT with
// parameters `params`), in one query: owner id -> map.
Result<std::unordered_map<int64_t, ConfigMap>> load_config(Transaction& tx, ConfigTable t,
                                                           std::string_view owner_ids_sql,
                                                           const std::vector<Param>& params);
Result<std::unordered_map<int64_t, DeviceMap>> load_devices(Transaction& tx, DeviceTables t,
                                                            std::string_view owner_ids_sql,
                                                            const std::vector<Param>& params);
// Single-owner convenience forms.
Result<ConfigMap> load_config(Transaction& tx, ConfigTable t, int64_t owner_id);
Result<DeviceMap> load_devices(Transaction& tx, DeviceTables t, int64_t owner_id);

// Replace all config / devices of one owner.
Result<void> replace_config(Transaction& tx, ConfigTable t, int64_t owner_id, const ConfigMap& config);
Result<void> replace_devices(Transaction& tx, DeviceTables t, int64_t owner_id, const DeviceMap& devices);

// Every row of a SELECT (with params), each turned into a T by read(Statement&).
template <typename T, typename Read>
Result<std::vector<T>> select_rows(Transaction& tx, std::string_view sql, const std::vector<Param>& params,
                                   Read read) {
    LXM_TRY(auto st, tx.prepare(sql));
    LXM_TRY_VOID(bind_params(st, params));
    std::vector<T> out;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        out.push_back(read(st));
    }
    return out;
}
// The first column of every row of a SELECT, as text (names, fingerprints).
Result<std::vector<std::string>> select_texts(Transaction& tx, std::string_view sql, const std::vector<Param>& params);

// Run an UPDATE/DELETE with params; returns the number of rows changed.
Result<int64_t> exec_changes(Transaction& tx, std::string_view sql, const std::vector<Param>& params);

}  // namespace detail
}  // namespace lxm::store
