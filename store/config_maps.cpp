#include "store/config_maps.hpp"

namespace lxm::store::detail {

namespace {
std::string cat(std::initializer_list<std::string_view> parts) {
    std::string s;
    for (auto p : parts) s += p;
    return s;
}
}  // namespace

Result<void> bind_params(Statement& st, const std::vector<Param>& params) {
    int i = 0;
    for (const auto& p : params) {
        ++i;
        Result<void> r = std::visit([&](const auto& v) { return st.bind(i, v); }, p);
        if (!r) return r;
    }
    return {};
}

Result<std::unordered_map<int64_t, ConfigMap>> load_config(Transaction& tx, ConfigTable t,
                                                           std::string_view owner_ids_sql,
                                                           const std::vector<Param>& params) {
    LXM_TRY(auto st, tx.prepare(cat({"SELECT ", t.owner, ", key, value FROM ", t.table, " WHERE ", t.owner, " IN (",
                                     owner_ids_sql, ")"})));
    LXM_TRY_VOID(bind_params(st, params));
    std::unordered_map<int64_t, ConfigMap> out;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        out[st.column_int64(0)].emplace(st.column_text(1), st.column_text(2));
    }
    return out;
}

Result<std::unordered_map<int64_t, DeviceMap>> load_devices(Transaction& tx, DeviceTables t,
                                                            std::string_view owner_ids_sql,
                                                            const std::vector<Param>& params) {
    LXM_TRY(auto st, tx.prepare(cat({"SELECT d.", t.owner, ", d.name, d.type, c.key, c.value FROM ", t.devices,
                                     " d LEFT JOIN ", t.config, " c ON c.device_id = d.id WHERE d.", t.owner,
                                     " IN (", owner_ids_sql, ")"})));
    LXM_TRY_VOID(bind_params(st, params));
    std::unordered_map<int64_t, DeviceMap> out;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        auto& dev = out[st.column_int64(0)][st.column_text(1)];
        if (auto type = st.column_text(2); !type.empty()) dev["type"] = std::move(type);
        if (!st.column_is_null(3)) dev[st.column_text(3)] = st.column_text(4);
    }
    return out;
}

Result<ConfigMap> load_config(Transaction& tx, ConfigTable t, int64_t owner_id) {
    LXM_TRY(auto all, load_config(tx, t, "SELECT ?1", {owner_id}));
    return std::move(all[owner_id]);
}

Result<DeviceMap> load_devices(Transaction& tx, DeviceTables t, int64_t owner_id) {
    LXM_TRY(auto all, load_devices(tx, t, "SELECT ?1", {owner_id}));
    return std::move(all[owner_id]);
}

Result<void> replace_config(Transaction& tx, ConfigTable t, int64_t owner_id, const ConfigMap& config) {
    LXM_TRY_VOID(exec_changes(tx, cat({"DELETE FROM ", t.table, " WHERE ", t.owner, " = ?1"}), {owner_id}));
    if (config.empty()) return {};
    LXM_TRY(auto st, tx.prepare(cat({"INSERT INTO ", t.table, " (", t.owner, ", key, value) VALUES (?1, ?2, ?3)"})));
    for (const auto& [k, v] : config) {
        LXM_TRY_VOID(st.bind_all(owner_id, k, v));
        LXM_TRY_VOID(st.exec());
        st.reset();
    }
    return {};
}

Result<void> replace_devices(Transaction& tx, DeviceTables t, int64_t owner_id, const DeviceMap& devices) {
    // Deleting the devices cascades to their config.
    LXM_TRY_VOID(exec_changes(tx, cat({"DELETE FROM ", t.devices, " WHERE ", t.owner, " = ?1"}), {owner_id}));
    if (devices.empty()) return {};
    LXM_TRY(auto dev_st, tx.prepare(cat({"INSERT INTO ", t.devices, " (", t.owner, ", name, type) VALUES (?1, ?2, ?3)"})));
    LXM_TRY(auto cfg_st, tx.prepare(cat({"INSERT INTO ", t.config, " (device_id, key, value) VALUES (?1, ?2, ?3)"})));
    for (const auto& [name, keys] : devices) {
        auto type = keys.find("type");
        LXM_TRY_VOID(dev_st.bind_all(owner_id, name, type == keys.end() ? std::string() : type->second));
        LXM_TRY_VOID(dev_st.exec());
        dev_st.reset();
        int64_t device_id = tx.last_insert_rowid();
        for (const auto& [k, v] : keys) {
            if (k == "type") continue;
            LXM_TRY_VOID(cfg_st.bind_all(device_id, k, v));
            LXM_TRY_VOID(cfg_st.exec());
            cfg_st.reset();
        }
    }
    return {};
}

Result<std::vector<std::string>> select_texts(Transaction& tx, std::string_view sql, const std::vector<Param>& params) {
    return select_rows<std::string>(tx, sql, params, [](Statement& st) { return st.column_text(0); });
}

Result<int64_t> exec_changes(Transaction& tx, std::string_view sql, const std::vector<Param>& params) {
    LXM_TRY(auto st, tx.prepare(sql));
    LXM_TRY_VOID(bind_params(st, params));
    LXM_TRY_VOID(st.exec());
    return tx.changes();
}

}  // namespace lxm::store::detail
