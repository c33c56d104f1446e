#include "store/networks.hpp"

#include "store/errors.hpp"

namespace lxm::store {

namespace {

using detail::Param;

constexpr detail::ConfigTable kConfig{"networks_config", "network_id"};

std::string label(std::string_view name) { return "network \"" + std::string(name) + "\""; }

Result<std::vector<NetworkRecord>> select_networks(Transaction& tx, std::string_view where,
                                                   const std::vector<Param>& params) {
    LXM_TRY(auto out, detail::select_rows<NetworkRecord>(
                          tx, "SELECT id, name, type, description, status FROM networks " + std::string(where) + " ORDER BY name",
                          params, [](Statement& st) {
                              return NetworkRecord{st.column_int64(0), st.column_text(1), st.column_text(2),
                                                   st.column_text(3), st.column_text(4), {}};
                          }));
    if (out.empty()) return out;
    LXM_TRY(auto config, detail::load_config(tx, kConfig, "SELECT id FROM networks " + std::string(where), params));
    for (auto& r : out) r.config = std::move(config[r.id]);
    return out;
}

Result<int64_t> network_id(Transaction& tx, std::string_view name) {
    LXM_TRY(auto st, tx.prepare("SELECT id FROM networks WHERE name = ?1"));
    LXM_TRY_VOID(st.bind_all(name));
    LXM_TRY(bool row, st.step());
    if (!row) return not_found(label(name));
    return st.column_int64(0);
}

}  // namespace

Result<int64_t> create_network(Transaction& tx, const NetworkRecord& rec) {
    auto r = detail::exec_changes(tx, "INSERT INTO networks (name, type, description, status) VALUES (?1, ?2, ?3, ?4)",
                                  {rec.name, rec.type, rec.description, rec.status});
    if (!r) return std::unexpected(on_write_error(std::move(r).error(), label(rec.name), "create " + label(rec.name)));
    int64_t id = tx.last_insert_rowid();
    LXM_TRY_VOID(detail::replace_config(tx, kConfig, id, rec.config));
    return id;
}

Result<NetworkRecord> get_network(Transaction& tx, std::string_view name) {
    LXM_TRY(auto rows, select_networks(tx, "WHERE name = ?1", {std::string(name)}));
    if (rows.empty()) return not_found(label(name));
    return std::move(rows.front());
}

Result<std::vector<std::string>> list_network_names(Transaction& tx) {
    return detail::select_texts(tx, "SELECT name FROM networks ORDER BY name", {});
}

Result<std::vector<NetworkRecord>> list_networks(Transaction& tx) { return select_networks(tx, "", {}); }

Result<void> update_network(Transaction& tx, const NetworkRecord& rec) {
    LXM_TRY(int64_t id, network_id(tx, rec.name));
    LXM_TRY_VOID(detail::exec_changes(tx, "UPDATE networks SET type = ?2, description = ?3, status = ?4 WHERE id = ?1",
                                      {id, rec.type, rec.description, rec.status}));
    return detail::replace_config(tx, kConfig, id, rec.config);
}

Result<void> set_network_status(Transaction& tx, std::string_view name, std::string_view status) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "UPDATE networks SET status = ?2 WHERE name = ?1",
                                            {std::string(name), std::string(status)}));
    if (n == 0) return not_found(label(name));
    return {};
}

Result<void> rename_network(Transaction& tx, std::string_view name, std::string_view new_name) {
    auto n = detail::exec_changes(tx, "UPDATE networks SET name = ?2 WHERE name = ?1",
                                  {std::string(name), std::string(new_name)});
    if (!n) return std::unexpected(on_write_error(std::move(n).error(), label(new_name), "rename " + label(name)));
    if (*n == 0) return not_found(label(name));
    return {};
}

Result<void> delete_network(Transaction& tx, std::string_view name) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM networks WHERE name = ?1", {std::string(name)}));
    if (n == 0) return not_found(label(name));
    return {};
}

}  // namespace lxm::store
