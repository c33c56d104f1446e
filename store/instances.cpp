#include "store/instances.hpp"

#include <algorithm>

#include "store/errors.hpp"

namespace lxm::store {

namespace {

using detail::Param;

constexpr detail::ConfigTable kConfig{"instances_config", "instance_id"};
constexpr detail::DeviceTables kDevices{"instances_devices", "instances_devices_config", "instance_id"};

constexpr std::string_view kColumns =
    "id, project, name, type, architecture, description, ephemeral, stateful, status_wanted, created_at, "
    "last_used_at, image_fingerprint, storage_pool, idmap_base, idmap_size";

std::string label(std::string_view project, std::string_view name) {
    std::string s = "instance \"";
    s += name;
    s += "\"";
    if (project != "default") {
        s += " in project \"";
        s += project;
        s += "\"";
    }
    return s;
}

InstanceRecord read_row(const Statement& st) {
    InstanceRecord r;
    r.id = st.column_int64(0);
    r.project = st.column_text(1);
    r.name = st.column_text(2);
    r.type = st.column_text(3);
    r.architecture = st.column_text(4);
    r.description = st.column_text(5);
    r.ephemeral = st.column_bool(6);
    r.stateful = st.column_bool(7);
    r.status_wanted = st.column_text(8);
    r.created_at = st.column_int64(9);
    r.last_used_at = st.column_int64(10);
    r.image_fingerprint = st.column_text(11);
    r.storage_pool = st.column_text(12);
    r.idmap_base = st.column_optional_int64(13);
    r.idmap_size = st.column_optional_int64(14);
    return r;
}

// Profile links of the selected instances: instance id -> names in order.
Result<std::unordered_map<int64_t, std::vector<std::string>>> load_profiles(Transaction& tx,
                                                                          std::string_view owner_ids_sql,
                                                                          const std::vector<Param>& params) {
    LXM_TRY(auto st, tx.prepare(std::string("SELECT ip.instance_id, p.name FROM instances_profiles ip "
                                            "JOIN profiles p ON p.id = ip.profile_id WHERE ip.instance_id IN (") +
                                std::string(owner_ids_sql) + ") ORDER BY ip.instance_id, ip.apply_order"));
    LXM_TRY_VOID(detail::bind_params(st, params));
    std::unordered_map<int64_t, std::vector<std::string>> out;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        out[st.column_int64(0)].push_back(st.column_text(1));
    }
    return out;
}

Result<void> replace_profiles(Transaction& tx, int64_t id, std::string_view project,
                              const std::vector<std::string>& profiles) {
    LXM_TRY_VOID(detail::exec_changes(tx, "DELETE FROM instances_profiles WHERE instance_id = ?1", {id}));
    if (profiles.empty()) return {};
    LXM_TRY(auto st, tx.prepare("INSERT INTO instances_profiles (instance_id, profile_id, apply_order) "
                                "SELECT ?1, id, ?2 FROM profiles WHERE project = ?3 AND name = ?4"));
    int order = 0;
    for (const auto& p : profiles) {
        LXM_TRY_VOID(st.bind_all(id, order++, project, p));
        auto r = st.exec();
        if (!r) {
            if (r.error().code == std::errc::file_exists)
                return base::make_error(std::errc::invalid_argument, "profile \"" + p + "\" listed twice");
            return r;
        }
        st.reset();
        if (tx.changes() == 0) return not_found("profile \"" + p + "\"");
    }
    return {};
}

Result<void> write_children(Transaction& tx, int64_t id, const InstanceRecord& rec) {
    LXM_TRY_VOID(detail::replace_config(tx, kConfig, id, rec.config));
    LXM_TRY_VOID(detail::replace_devices(tx, kDevices, id, rec.devices));
    return replace_profiles(tx, id, rec.project, rec.profiles);
}

}  // namespace

Result<int64_t> create_instance(Transaction& tx, const InstanceRecord& rec) {
    std::string what = label(rec.project, rec.name);
    {
        LXM_TRY(auto st, tx.prepare("INSERT INTO instances (project, name, type, architecture, description, ephemeral, "
                                    "stateful, status_wanted, created_at, last_used_at, image_fingerprint, "
                                    "storage_pool, idmap_base, idmap_size) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"));
        LXM_TRY_VOID(st.bind_all(rec.project, rec.name, rec.type, rec.architecture, rec.description, rec.ephemeral,
                                 rec.stateful, rec.status_wanted, rec.created_at, rec.last_used_at,
                                 rec.image_fingerprint, rec.storage_pool, rec.idmap_base, rec.idmap_size));
        if (auto r = st.exec(); !r) {
            if (r.error().code == std::errc::file_exists && r.error().context.find("failed: instances.idmap_base") != std::string::npos)
                return base::make_error(std::errc::file_exists,
                                        what + ": id range " + std::to_string(rec.idmap_base.value_or(0)) +
                                            " is already allocated");
            return std::unexpected(on_write_error(std::move(r).error(), what, "create " + what));
        }
    }
    int64_t id = tx.last_insert_rowid();
    if (auto r = write_children(tx, id, rec); !r) return std::unexpected(base::wrap(r.error(), "create " + what));
    return id;
}

Result<int64_t> instance_id(Transaction& tx, std::string_view project, std::string_view name) {
    LXM_TRY(auto st, tx.prepare("SELECT id FROM instances WHERE project = ?1 AND name = ?2"));
    LXM_TRY_VOID(st.bind_all(project, name));
    LXM_TRY(bool row, st.step());
    if (!row) return not_found(label(project, name));
    return st.column_int64(0);
}

Result<InstanceRecord> get_instance(Transaction& tx, std::string_view project, std::string_view name) {
    InstanceRecord rec;
    {
        LXM_TRY(auto st, tx.prepare("SELECT " + std::string(kColumns) +
                                    " FROM instances WHERE project = ?1 AND name = ?2"));
        LXM_TRY_VOID(st.bind_all(project, name));
        LXM_TRY(bool row, st.step());
        if (!row) return not_found(label(project, name));
        rec = read_row(st);
    }
    LXM_TRY(rec.config, detail::load_config(tx, kConfig, rec.id));
    LXM_TRY(rec.devices, detail::load_devices(tx, kDevices, rec.id));
    LXM_TRY(auto profiles, load_profiles(tx, "SELECT ?1", {rec.id}));
    rec.profiles = std::move(profiles[rec.id]);
    return rec;
}

Result<std::vector<std::string>> list_instance_names(Transaction& tx, std::string_view project) {
    return detail::select_texts(tx, "SELECT name FROM instances WHERE project = ?1 ORDER BY name", {std::string(project)});
}

Result<std::vector<InstanceRecord>> list_instances(Transaction& tx, std::optional<std::string_view> project) {
    // ?1 IS NULL selects every project.
    std::vector<Param> params{project ? Param(std::string(*project)) : Param(nullptr)};
    constexpr std::string_view kIds = "SELECT id FROM instances WHERE ?1 IS NULL OR project = ?1";
    LXM_TRY(auto out, detail::select_rows<InstanceRecord>(
                          tx, "SELECT " + std::string(kColumns) +
                                  " FROM instances WHERE ?1 IS NULL OR project = ?1 ORDER BY project, name",
                          params, read_row));
    if (out.empty()) return out;
    LXM_TRY(auto config, detail::load_config(tx, kConfig, kIds, params));
    LXM_TRY(auto devices, detail::load_devices(tx, kDevices, kIds, params));
    LXM_TRY(auto profiles, load_profiles(tx, kIds, params));
    for (auto& rec : out) {
        if (auto it = config.find(rec.id); it != config.end()) rec.config = std::move(it->second);
        if (auto it = devices.find(rec.id); it != devices.end()) rec.devices = std::move(it->second);
        if (auto it = profiles.find(rec.id); it != profiles.end()) rec.profiles = std::move(it->second);
    }
    return out;
}

Result<void> update_instance(Transaction& tx, const InstanceRecord& rec) {
    std::string what = label(rec.project, rec.name);
    LXM_TRY(int64_t id, instance_id(tx, rec.project, rec.name));
    {
        LXM_TRY(auto st, tx.prepare("UPDATE instances SET type = ?2, architecture = ?3, description = ?4, "
                                    "ephemeral = ?5, stateful = ?6, status_wanted = ?7, last_used_at = ?8, "
                                    "image_fingerprint = ?9, storage_pool = ?10, idmap_base = ?11, idmap_size = ?12 "
                                    "WHERE id = ?1"));
        LXM_TRY_VOID(st.bind_all(id, rec.type, rec.architecture, rec.description, rec.ephemeral, rec.stateful,
                                 rec.status_wanted, rec.last_used_at, rec.image_fingerprint, rec.storage_pool,
                                 rec.idmap_base, rec.idmap_size));
        if (auto r = st.exec(); !r) return std::unexpected(base::wrap(r.error(), "update " + what));
    }
    if (auto r = write_children(tx, id, rec); !r) return std::unexpected(base::wrap(r.error(), "update " + what));
    return {};
}

Result<void> set_instance_status_wanted(Transaction& tx, std::string_view project, std::string_view name,
                                        std::string_view status) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "UPDATE instances SET status_wanted = ?3 WHERE project = ?1 AND name = ?2",
                                            {std::string(project), std::string(name), std::string(status)}));
    if (n == 0) return not_found(label(project, name));
    return {};
}

Result<void> set_instance_last_used(Transaction& tx, std::string_view project, std::string_view name,
                                    int64_t last_used_at) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "UPDATE instances SET last_used_at = ?3 WHERE project = ?1 AND name = ?2",
                                            {std::string(project), std::string(name), last_used_at}));
    if (n == 0) return not_found(label(project, name));
    return {};
}

Result<void> rename_instance(Transaction& tx, std::string_view project, std::string_view name,
                             std::string_view new_name) {
    auto n = detail::exec_changes(tx, "UPDATE instances SET name = ?3 WHERE project = ?1 AND name = ?2",
                                  {std::string(project), std::string(name), std::string(new_name)});
    if (!n) return std::unexpected(on_write_error(std::move(n).error(), label(project, new_name), "rename " + label(project, name)));
    if (*n == 0) return not_found(label(project, name));
    return {};
}

Result<void> delete_instance(Transaction& tx, std::string_view project, std::string_view name) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM instances WHERE project = ?1 AND name = ?2",
                                            {std::string(project), std::string(name)}));
    if (n == 0) return not_found(label(project, name));
    return {};
}

Result<int64_t> allocate_idmap_base(Transaction& tx, int64_t first, int64_t size, int64_t limit) {
    // Walk the allocated ranges in order; the first hole large enough wins.
    LXM_TRY(auto st, tx.prepare("SELECT idmap_base, idmap_size FROM instances WHERE idmap_base IS NOT NULL "
                                "AND idmap_base + idmap_size > ?1 ORDER BY idmap_base"));
    LXM_TRY_VOID(st.bind_all(first));
    int64_t candidate = first;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        int64_t base = st.column_int64(0), len = st.column_int64(1);
        if (candidate + size <= base) break;
        candidate = std::max(candidate, base + len);
    }
    if (candidate + size > limit)
        return base::make_error(std::errc::no_space_on_device, "no free id range of size " + std::to_string(size));
    return candidate;
}

}  // namespace lxm::store
