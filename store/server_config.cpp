#include "store/server_config.hpp"

namespace lxm::store {

Result<ConfigMap> get_server_config(Transaction& tx) {
    LXM_TRY(auto st, tx.prepare("SELECT key, value FROM config"));
    ConfigMap out;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        out.emplace(st.column_text(0), st.column_text(1));
    }
    return out;
}

Result<void> replace_server_config(Transaction& tx, const ConfigMap& config) {
    LXM_TRY_VOID(tx.exec("DELETE FROM config"));
    LXM_TRY(auto st, tx.prepare("INSERT INTO config (key, value) VALUES (?1, ?2)"));
    for (const auto& [k, v] : config) {
        LXM_TRY_VOID(st.bind_all(k, v));
        LXM_TRY_VOID(st.exec());
        st.reset();
    }
    return {};
}

Result<void> set_server_config_key(Transaction& tx, std::string_view key, const std::optional<std::string>& value) {
    if (!value) {
        LXM_TRY_VOID(detail::exec_changes(tx, "DELETE FROM config WHERE key = ?1", {std::string(key)}));
        return {};
    }
    LXM_TRY_VOID(detail::exec_changes(tx,
                                      "INSERT INTO config (key, value) VALUES (?1, ?2) "
                                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                      {std::string(key), *value}));
    return {};
}

}  // namespace lxm::store
