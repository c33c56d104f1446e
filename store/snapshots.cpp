#include "store/snapshots.hpp"

#include "store/errors.hpp"
#include "store/instances.hpp"

namespace lxm::store {

namespace {

using detail::Param;

constexpr detail::ConfigTable kConfig{"instances_snapshots_config", "snapshot_id"};
constexpr detail::DeviceTables kDevices{"instances_snapshots_devices", "instances_snapshots_devices_config",
                                        "snapshot_id"};
constexpr std::string_view kColumns = "id, name, description, created_at, expires_at, stateful";

std::string label(std::string_view instance, std::string_view name) {
    return "snapshot \"" + std::string(instance) + "/" + std::string(name) + "\"";
}

SnapshotRecord read_row(const Statement& st) {
    SnapshotRecord r;
    r.id = st.column_int64(0);
    r.name = st.column_text(1);
    r.description = st.column_text(2);
    r.created_at = st.column_int64(3);
    r.expires_at = st.column_optional_int64(4);
    r.stateful = st.column_bool(5);
    return r;
}

Result<int64_t> snapshot_id(Transaction& tx, int64_t instance_id, std::string_view instance, std::string_view name) {
    LXM_TRY(auto st, tx.prepare("SELECT id FROM instances_snapshots WHERE instance_id = ?1 AND name = ?2"));
    LXM_TRY_VOID(st.bind_all(instance_id, name));
    LXM_TRY(bool row, st.step());
    if (!row) return not_found(label(instance, name));
    return st.column_int64(0);
}

}  // namespace

Result<int64_t> create_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                                const SnapshotRecord& rec) {
    LXM_TRY(int64_t iid, instance_id(tx, project, instance));
    std::string what = label(instance, rec.name);
    {
        LXM_TRY(auto st, tx.prepare("INSERT INTO instances_snapshots (instance_id, name, description, created_at, "
                                    "expires_at, stateful) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
        LXM_TRY_VOID(st.bind_all(iid, rec.name, rec.description, rec.created_at, rec.expires_at, rec.stateful));
        if (auto r = st.exec(); !r) return std::unexpected(on_write_error(std::move(r).error(), what, "create " + what));
    }
    int64_t id = tx.last_insert_rowid();
    LXM_TRY_VOID(detail::replace_config(tx, kConfig, id, rec.config));
    LXM_TRY_VOID(detail::replace_devices(tx, kDevices, id, rec.devices));
    return id;
}

Result<SnapshotRecord> get_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                                    std::string_view name) {
    LXM_TRY(int64_t iid, instance_id(tx, project, instance));
    SnapshotRecord rec;
    {
        LXM_TRY(auto st, tx.prepare("SELECT " + std::string(kColumns) +
                                    " FROM instances_snapshots WHERE instance_id = ?1 AND name = ?2"));
        LXM_TRY_VOID(st.bind_all(iid, name));
        LXM_TRY(bool row, st.step());
        if (!row) return not_found(label(instance, name));
        rec = read_row(st);
    }
    LXM_TRY(rec.config, detail::load_config(tx, kConfig, rec.id));
    LXM_TRY(rec.devices, detail::load_devices(tx, kDevices, rec.id));
    return rec;
}

Result<std::vector<SnapshotRecord>> list_snapshots(Transaction& tx, std::string_view project,
                                                   std::string_view instance) {
    LXM_TRY(int64_t iid, instance_id(tx, project, instance));
    std::vector<Param> params{iid};
    std::vector<SnapshotRecord> out;
    {
        LXM_TRY(auto st, tx.prepare("SELECT " + std::string(kColumns) +
                                    " FROM instances_snapshots WHERE instance_id = ?1 ORDER BY created_at, id"));
        LXM_TRY_VOID(detail::bind_params(st, params));
        for (;;) {
            LXM_TRY(bool row, st.step());
            if (!row) break;
            out.push_back(read_row(st));
        }
    }
    if (out.empty()) return out;
    constexpr std::string_view kIds = "SELECT id FROM instances_snapshots WHERE instance_id = ?1";
    LXM_TRY(auto config, detail::load_config(tx, kConfig, kIds, params));
    LXM_TRY(auto devices, detail::load_devices(tx, kDevices, kIds, params));
    for (auto& r : out) {
        r.config = std::move(config[r.id]);
        r.devices = std::move(devices[r.id]);
    }
    return out;
}

Result<std::unordered_map<int64_t, std::vector<SnapshotRecord>>> list_project_snapshots(Transaction& tx,
                                                                                      std::string_view project) {
    std::vector<Param> params{std::string(project)};
    std::unordered_map<int64_t, std::vector<SnapshotRecord>> out;
    std::vector<std::pair<int64_t, SnapshotRecord>> rows;
    {
        LXM_TRY(auto st, tx.prepare("SELECT s.instance_id, s.id, s.name, s.description, s.created_at, s.expires_at, "
                                    "s.stateful FROM instances_snapshots s JOIN instances i ON i.id = s.instance_id "
                                    "WHERE i.project = ?1 ORDER BY s.instance_id, s.created_at, s.id"));
        LXM_TRY_VOID(detail::bind_params(st, params));
        for (;;) {
            LXM_TRY(bool row, st.step());
            if (!row) break;
            SnapshotRecord r;
            r.id = st.column_int64(1);
            r.name = st.column_text(2);
            r.description = st.column_text(3);
            r.created_at = st.column_int64(4);
            r.expires_at = st.column_optional_int64(5);
            r.stateful = st.column_bool(6);
            rows.emplace_back(st.column_int64(0), std::move(r));
        }
    }
    if (rows.empty()) return out;
    constexpr std::string_view kIds =
        "SELECT s.id FROM instances_snapshots s JOIN instances i ON i.id = s.instance_id WHERE i.project = ?1";
    LXM_TRY(auto config, detail::load_config(tx, kConfig, kIds, params));
    LXM_TRY(auto devices, detail::load_devices(tx, kDevices, kIds, params));
    for (auto& [iid, r] : rows) {
        if (auto it = config.find(r.id); it != config.end()) r.config = std::move(it->second);
        if (auto it = devices.find(r.id); it != devices.end()) r.devices = std::move(it->second);
        out[iid].push_back(std::move(r));
    }
    return out;
}

Result<void> update_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                             const SnapshotRecord& rec) {
    LXM_TRY(int64_t iid, instance_id(tx, project, instance));
    LXM_TRY(int64_t id, snapshot_id(tx, iid, instance, rec.name));
    LXM_TRY(auto st, tx.prepare("UPDATE instances_snapshots SET description = ?2, expires_at = ?3 WHERE id = ?1"));
    LXM_TRY_VOID(st.bind_all(id, rec.description, rec.expires_at));
    LXM_TRY_VOID(st.exec());
    LXM_TRY_VOID(detail::replace_config(tx, kConfig, id, rec.config));
    return detail::replace_devices(tx, kDevices, id, rec.devices);
}

Result<void> rename_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                             std::string_view name, std::string_view new_name) {
    LXM_TRY(int64_t iid, instance_id(tx, project, instance));
    auto n = detail::exec_changes(tx, "UPDATE instances_snapshots SET name = ?3 WHERE instance_id = ?1 AND name = ?2",
                                  {iid, std::string(name), std::string(new_name)});
    if (!n) return std::unexpected(on_write_error(std::move(n).error(), label(instance, new_name), "rename " + label(instance, name)));
    if (*n == 0) return not_found(label(instance, name));
    return {};
}

Result<void> delete_snapshot(Transaction& tx, std::string_view project, std::string_view instance,
                             std::string_view name) {
    LXM_TRY(int64_t iid, instance_id(tx, project, instance));
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM instances_snapshots WHERE instance_id = ?1 AND name = ?2",
                                            {iid, std::string(name)}));
    if (n == 0) return not_found(label(instance, name));
    return {};
}

Result<std::vector<ExpiredSnapshot>> list_expired_snapshots(Transaction& tx, int64_t now) {
    LXM_TRY(auto st, tx.prepare("SELECT i.project, i.name, s.name FROM instances_snapshots s "
                                "JOIN instances i ON i.id = s.instance_id "
                                "WHERE s.expires_at IS NOT NULL AND s.expires_at <= ?1 ORDER BY s.expires_at"));
    LXM_TRY_VOID(st.bind_all(now));
    std::vector<ExpiredSnapshot> out;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        out.push_back({st.column_text(0), st.column_text(1), st.column_text(2)});
    }
    return out;
}

}  // namespace lxm::store
