#include "store/storage.hpp"

#include "store/errors.hpp"

namespace lxm::store {

namespace {

using detail::Param;

constexpr detail::ConfigTable kPoolConfig{"storage_pools_config", "storage_pool_id"};
constexpr detail::ConfigTable kVolumeConfig{"storage_volumes_config", "storage_volume_id"};

std::string pool_label(std::string_view name) { return "storage pool \"" + std::string(name) + "\""; }
std::string volume_label(std::string_view pool, std::string_view type, std::string_view name) {
    return "storage volume \"" + std::string(pool) + "/" + std::string(type) + "/" + std::string(name) + "\"";
}

Result<std::vector<StoragePoolRecord>> select_pools(Transaction& tx, std::string_view where,
                                                    const std::vector<Param>& params) {
    LXM_TRY(auto out, detail::select_rows<StoragePoolRecord>(
                          tx, "SELECT id, name, driver, description, status FROM storage_pools " + std::string(where) +
                                  " ORDER BY name",
                          params, [](Statement& st) {
                              return StoragePoolRecord{st.column_int64(0), st.column_text(1), st.column_text(2),
                                                       st.column_text(3), st.column_text(4), {}};
                          }));
    if (out.empty()) return out;
    LXM_TRY(auto config, detail::load_config(tx, kPoolConfig, "SELECT id FROM storage_pools " + std::string(where), params));
    for (auto& r : out) r.config = std::move(config[r.id]);
    return out;
}

Result<int64_t> pool_id(Transaction& tx, std::string_view name) {
    LXM_TRY(auto st, tx.prepare("SELECT id FROM storage_pools WHERE name = ?1"));
    LXM_TRY_VOID(st.bind_all(name));
    LXM_TRY(bool row, st.step());
    if (!row) return not_found(pool_label(name));
    return st.column_int64(0);
}

constexpr std::string_view kVolumeSelect =
    "SELECT v.id, p.name, v.project, v.name, v.type, v.content_type, v.description, v.created_at "
    "FROM storage_volumes v JOIN storage_pools p ON p.id = v.storage_pool_id ";

Result<std::vector<StorageVolumeRecord>> select_volumes(Transaction& tx, std::string_view where,
                                                        const std::vector<Param>& params) {
    LXM_TRY(auto out, detail::select_rows<StorageVolumeRecord>(
                          tx, std::string(kVolumeSelect) + std::string(where) + " ORDER BY v.project, v.type, v.name",
                          params, [](Statement& st) {
                              return StorageVolumeRecord{st.column_int64(0), st.column_text(1), st.column_text(2),
                                                         st.column_text(3), st.column_text(4), st.column_text(5),
                                                         st.column_text(6), st.column_int64(7), {}};
                          }));
    if (out.empty()) return out;
    LXM_TRY(auto config, detail::load_config(tx, kVolumeConfig,
                                             "SELECT v.id FROM storage_volumes v JOIN storage_pools p ON "
                                             "p.id = v.storage_pool_id " + std::string(where),
                                             params));
    for (auto& r : out) r.config = std::move(config[r.id]);
    return out;
}

constexpr std::string_view kVolumeWhere = "WHERE p.name = ?1 AND v.project = ?2 AND v.type = ?3 AND v.name = ?4";

std::vector<Param> volume_key(std::string_view pool, std::string_view project, std::string_view type,
                              std::string_view name) {
    return {std::string(pool), std::string(project), std::string(type), std::string(name)};
}

}  // namespace

Result<int64_t> create_storage_pool(Transaction& tx, const StoragePoolRecord& rec) {
    auto r = detail::exec_changes(tx, "INSERT INTO storage_pools (name, driver, description, status) VALUES (?1, ?2, ?3, ?4)",
                                  {rec.name, rec.driver, rec.description, rec.status});
    if (!r) return std::unexpected(on_write_error(std::move(r).error(), pool_label(rec.name), "create " + pool_label(rec.name)));
    int64_t id = tx.last_insert_rowid();
    LXM_TRY_VOID(detail::replace_config(tx, kPoolConfig, id, rec.config));
    return id;
}

Result<StoragePoolRecord> get_storage_pool(Transaction& tx, std::string_view name) {
    LXM_TRY(auto rows, select_pools(tx, "WHERE name = ?1", {std::string(name)}));
    if (rows.empty()) return not_found(pool_label(name));
    return std::move(rows.front());
}

Result<std::vector<std::string>> list_storage_pool_names(Transaction& tx) {
    return detail::select_texts(tx, "SELECT name FROM storage_pools ORDER BY name", {});
}

Result<std::vector<StoragePoolRecord>> list_storage_pools(Transaction& tx) { return select_pools(tx, "", {}); }

Result<void> update_storage_pool(Transaction& tx, const StoragePoolRecord& rec) {
    LXM_TRY(int64_t id, pool_id(tx, rec.name));
    LXM_TRY_VOID(detail::exec_changes(tx, "UPDATE storage_pools SET description = ?2, status = ?3 WHERE id = ?1",
                                      {id, rec.description, rec.status}));
    return detail::replace_config(tx, kPoolConfig, id, rec.config);
}

Result<void> delete_storage_pool(Transaction& tx, std::string_view name) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM storage_pools WHERE name = ?1", {std::string(name)}));
    if (n == 0) return not_found(pool_label(name));
    return {};
}

Result<int64_t> create_storage_volume(Transaction& tx, const StorageVolumeRecord& rec) {
    std::string what = volume_label(rec.pool, rec.type, rec.name);
    LXM_TRY(int64_t pid, pool_id(tx, rec.pool));
    auto r = detail::exec_changes(tx,
                                  "INSERT INTO storage_volumes (storage_pool_id, project, name, type, content_type, "
                                  "description, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                  {pid, rec.project, rec.name, rec.type, rec.content_type, rec.description, rec.created_at});
    if (!r) return std::unexpected(on_write_error(std::move(r).error(), what, "create " + what));
    int64_t id = tx.last_insert_rowid();
    LXM_TRY_VOID(detail::replace_config(tx, kVolumeConfig, id, rec.config));
    return id;
}

Result<StorageVolumeRecord> get_storage_volume(Transaction& tx, std::string_view pool, std::string_view project,
                                               std::string_view type, std::string_view name) {
    LXM_TRY(auto rows, select_volumes(tx, kVolumeWhere, volume_key(pool, project, type, name)));
    if (rows.empty()) return not_found(volume_label(pool, type, name));
    return std::move(rows.front());
}

Result<std::vector<StorageVolumeRecord>> list_storage_volumes(Transaction& tx, std::string_view pool) {
    LXM_TRY_VOID(pool_id(tx, pool));
    return select_volumes(tx, "WHERE p.name = ?1", {std::string(pool)});
}

Result<void> update_storage_volume(Transaction& tx, const StorageVolumeRecord& rec) {
    LXM_TRY(auto cur, get_storage_volume(tx, rec.pool, rec.project, rec.type, rec.name));
    LXM_TRY_VOID(detail::exec_changes(tx, "UPDATE storage_volumes SET description = ?2 WHERE id = ?1",
                                      {cur.id, rec.description}));
    return detail::replace_config(tx, kVolumeConfig, cur.id, rec.config);
}

Result<void> rename_storage_volume(Transaction& tx, std::string_view pool, std::string_view project,
                                   std::string_view type, std::string_view name, std::string_view new_name) {
    LXM_TRY(auto cur, get_storage_volume(tx, pool, project, type, name));
    auto n = detail::exec_changes(tx, "UPDATE storage_volumes SET name = ?2 WHERE id = ?1", {cur.id, std::string(new_name)});
    if (!n)
        return std::unexpected(on_write_error(std::move(n).error(), volume_label(pool, type, new_name),
                                              "rename " + volume_label(pool, type, name)));
    return {};
}

Result<void> delete_storage_volume(Transaction& tx, std::string_view pool, std::string_view project,
                                   std::string_view type, std::string_view name) {
    LXM_TRY(auto cur, get_storage_volume(tx, pool, project, type, name));
    LXM_TRY_VOID(detail::exec_changes(tx, "DELETE FROM storage_volumes WHERE id = ?1", {cur.id}));
    return {};
}

}  // namespace lxm::store
