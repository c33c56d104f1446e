#include "store/profiles.hpp"

#include "store/errors.hpp"

namespace lxm::store {

namespace {

using detail::Param;

constexpr detail::ConfigTable kConfig{"profiles_config", "profile_id"};
constexpr detail::DeviceTables kDevices{"profiles_devices", "profiles_devices_config", "profile_id"};

std::string label(std::string_view project, std::string_view name) {
    std::string s = "profile \"";
    s += name;
    s += "\"";
    if (project != "default") {
        s += " in project \"";
        s += project;
        s += "\"";
    }
    return s;
}

Result<int64_t> profile_id(Transaction& tx, std::string_view project, std::string_view name) {
    LXM_TRY(auto st, tx.prepare("SELECT id FROM profiles WHERE project = ?1 AND name = ?2"));
    LXM_TRY_VOID(st.bind_all(project, name));
    LXM_TRY(bool row, st.step());
    if (!row) return not_found(label(project, name));
    return st.column_int64(0);
}

}  // namespace

Result<int64_t> create_profile(Transaction& tx, const ProfileRecord& rec) {
    std::string what = label(rec.project, rec.name);
    {
        LXM_TRY(auto st, tx.prepare("INSERT INTO profiles (project, name, description) VALUES (?1, ?2, ?3)"));
        LXM_TRY_VOID(st.bind_all(rec.project, rec.name, rec.description));
        if (auto r = st.exec(); !r) return std::unexpected(on_write_error(std::move(r).error(), what, "create " + what));
    }
    int64_t id = tx.last_insert_rowid();
    LXM_TRY_VOID(detail::replace_config(tx, kConfig, id, rec.config));
    LXM_TRY_VOID(detail::replace_devices(tx, kDevices, id, rec.devices));
    return id;
}

Result<ProfileRecord> get_profile(Transaction& tx, std::string_view project, std::string_view name) {
    ProfileRecord rec;
    {
        LXM_TRY(auto st, tx.prepare("SELECT id, project, name, description FROM profiles WHERE project = ?1 AND name = ?2"));
        LXM_TRY_VOID(st.bind_all(project, name));
        LXM_TRY(bool row, st.step());
        if (!row) return not_found(label(project, name));
        rec.id = st.column_int64(0);
        rec.project = st.column_text(1);
        rec.name = st.column_text(2);
        rec.description = st.column_text(3);
    }
    LXM_TRY(rec.config, detail::load_config(tx, kConfig, rec.id));
    LXM_TRY(rec.devices, detail::load_devices(tx, kDevices, rec.id));
    return rec;
}

Result<std::vector<std::string>> list_profile_names(Transaction& tx, std::string_view project) {
    return detail::select_texts(tx, "SELECT name FROM profiles WHERE project = ?1 ORDER BY name", {std::string(project)});
}

Result<std::vector<ProfileRecord>> list_profiles(Transaction& tx, std::string_view project) {
    std::vector<Param> params{std::string(project)};
    LXM_TRY(auto out, detail::select_rows<ProfileRecord>(
                          tx, "SELECT id, project, name, description FROM profiles WHERE project = ?1 ORDER BY name",
                          params, [](Statement& st) {
                              ProfileRecord r;
                              r.id = st.column_int64(0);
                              r.project = st.column_text(1);
                              r.name = st.column_text(2);
                              r.description = st.column_text(3);
                              return r;
                          }));
    constexpr std::string_view kIds = "SELECT id FROM profiles WHERE project = ?1";
    LXM_TRY(auto config, detail::load_config(tx, kConfig, kIds, params));
    LXM_TRY(auto devices, detail::load_devices(tx, kDevices, kIds, params));
    for (auto& r : out) {
        r.config = std::move(config[r.id]);
        r.devices = std::move(devices[r.id]);
    }
    return out;
}

Result<void> update_profile(Transaction& tx, const ProfileRecord& rec) {
    LXM_TRY(int64_t id, profile_id(tx, rec.project, rec.name));
    LXM_TRY_VOID(detail::exec_changes(tx, "UPDATE profiles SET description = ?2 WHERE id = ?1", {id, rec.description}));
    LXM_TRY_VOID(detail::replace_config(tx, kConfig, id, rec.config));
    return detail::replace_devices(tx, kDevices, id, rec.devices);
}

Result<void> rename_profile(Transaction& tx, std::string_view project, std::string_view name,
                            std::string_view new_name) {
    auto n = detail::exec_changes(tx, "UPDATE profiles SET name = ?3 WHERE project = ?1 AND name = ?2",
                                  {std::string(project), std::string(name), std::string(new_name)});
    if (!n) return std::unexpected(on_write_error(std::move(n).error(), label(project, new_name), "rename " + label(project, name)));
    if (*n == 0) return not_found(label(project, name));
    return {};
}

Result<std::vector<std::string>> profile_used_by(Transaction& tx, std::string_view project, std::string_view name) {
    return detail::select_texts(tx,
                                "SELECT i.name FROM instances i JOIN instances_profiles ip ON ip.instance_id = i.id "
                                "JOIN profiles p ON p.id = ip.profile_id WHERE p.project = ?1 AND p.name = ?2 "
                                "ORDER BY i.name",
                                {std::string(project), std::string(name)});
}

Result<void> delete_profile(Transaction& tx, std::string_view project, std::string_view name) {
    LXM_TRY(auto users, profile_used_by(tx, project, name));
    if (!users.empty()) {
        std::string list;
        for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
        return base::make_error(std::errc::device_or_resource_busy,
                                label(project, name) + " is used by instances: " + list);
    }
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM profiles WHERE project = ?1 AND name = ?2",
                                            {std::string(project), std::string(name)}));
    if (n == 0) return not_found(label(project, name));
    return {};
}

Result<void> ensure_default_profile(Transaction& tx, std::string_view project) {
    LXM_TRY_VOID(detail::exec_changes(tx,
                                      "INSERT INTO profiles (project, name, description) VALUES (?1, 'default', "
                                      "'Default lxm profile') ON CONFLICT (project, name) DO NOTHING",
                                      {std::string(project)}));
    return {};
}

}  // namespace lxm::store
