#include "store/backup_file.hpp"

#include "lxm/base/file.hpp"
#include "store/errors.hpp"

namespace lxm::store {

namespace {

using nlohmann::json;

json optional_json(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

std::optional<int64_t> optional_int(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return it->get<int64_t>();
}

json instance_json(const InstanceRecord& r) {
    return {{"project", r.project},
            {"name", r.name},
            {"type", r.type},
            {"architecture", r.architecture},
            {"description", r.description},
            {"ephemeral", r.ephemeral},
            {"stateful", r.stateful},
            {"status_wanted", r.status_wanted},
            {"created_at", r.created_at},
            {"last_used_at", r.last_used_at},
            {"image_fingerprint", r.image_fingerprint},
            {"storage_pool", r.storage_pool},
            {"idmap_base", optional_json(r.idmap_base)},
            {"idmap_size", optional_json(r.idmap_size)},
            {"config", r.config},
            {"devices", r.devices},
            {"profiles", r.profiles}};
}

// The parsers below throw nlohmann exceptions on wrong types; backup_from_json
// is the boundary that turns them into an Error.
InstanceRecord instance_from(const json& j) {
    InstanceRecord r;
    r.project = j.value("project", std::string("default"));
    r.name = j.at("name").get<std::string>();
    r.type = j.value("type", std::string("container"));
    r.architecture = j.at("architecture").get<std::string>();
    r.description = j.value("description", std::string());
    r.ephemeral = j.value("ephemeral", false);
    r.stateful = j.value("stateful", false);
    r.status_wanted = j.value("status_wanted", std::string("stopped"));
    r.created_at = j.value("created_at", int64_t{0});
    r.last_used_at = j.value("last_used_at", int64_t{0});
    r.image_fingerprint = j.value("image_fingerprint", std::string());
    r.storage_pool = j.value("storage_pool", std::string());
    r.idmap_base = optional_int(j, "idmap_base");
    r.idmap_size = optional_int(j, "idmap_size");
    r.config = j.value("config", ConfigMap{});
    r.devices = j.value("devices", DeviceMap{});
    r.profiles = j.value("profiles", std::vector<std::string>{});
    return r;
}

json snapshot_json(const SnapshotRecord& s) {
    return {{"name", s.name},
            {"description", s.description},
            {"created_at", s.created_at},
            {"expires_at", optional_json(s.expires_at)},
            {"stateful", s.stateful},
            {"config", s.config},
            {"devices", s.devices}};
}

SnapshotRecord snapshot_from(const json& j) {
    SnapshotRecord s;
    s.name = j.at("name").get<std::string>();
    s.description = j.value("description", std::string());
    s.created_at = j.value("created_at", int64_t{0});
    s.expires_at = optional_int(j, "expires_at");
    s.stateful = j.value("stateful", false);
    s.config = j.value("config", ConfigMap{});
    s.devices = j.value("devices", DeviceMap{});
    return s;
}

json profile_json(const ProfileRecord& p) {
    return {{"project", p.project},
            {"name", p.name},
            {"description", p.description},
            {"config", p.config},
            {"devices", p.devices}};
}

ProfileRecord profile_from(const json& j) {
    ProfileRecord p;
    p.project = j.value("project", std::string("default"));
    p.name = j.at("name").get<std::string>();
    p.description = j.value("description", std::string());
    p.config = j.value("config", ConfigMap{});
    p.devices = j.value("devices", DeviceMap{});
    return p;
}

std::string label(const InstanceRecord& r) { return r.project + "/" + r.name; }

Result<bool> instance_exists(Transaction& tx, const InstanceRecord& r) {
    auto id = instance_id(tx, r.project, r.name);
    if (id) return true;
    if (id.error().code == std::errc::no_such_file_or_directory) return false;
    return std::unexpected(std::move(id).error());
}

// Insert one backed-up instance (its profiles first when missing).
Result<void> insert_backup(Transaction& tx, const InstanceBackup& b) {
    for (const auto& p : b.profiles) {
        auto existing = get_profile(tx, p.project, p.name);
        if (existing) continue;  // never overwrite a profile that is there
        if (existing.error().code != std::errc::no_such_file_or_directory) return std::unexpected(existing.error());
        LXM_TRY_VOID(create_profile(tx, p));
    }
    LXM_TRY_VOID(create_instance(tx, b.instance));
    for (const auto& s : b.snapshots) LXM_TRY_VOID(create_snapshot(tx, b.instance.project, b.instance.name, s));
    return {};
}

}  // namespace

nlohmann::json backup_to_json(const InstanceBackup& b) {
    json snaps = json::array(), profiles = json::array();
    for (const auto& s : b.snapshots) snaps.push_back(snapshot_json(s));
    for (const auto& p : b.profiles) profiles.push_back(profile_json(p));
    return {{"format", kBackupFormat}, {"instance", instance_json(b.instance)}, {"snapshots", snaps}, {"profiles", profiles}};
}

Result<InstanceBackup> backup_from_json(const nlohmann::json& j) {
    try {
        int format = j.at("format").get<int>();
        if (format > kBackupFormat)
            return base::make_error(std::errc::not_supported, "backup format " + std::to_string(format) +
                                                                  " is newer than this lxm (" +
                                                                  std::to_string(kBackupFormat) + ")");
        InstanceBackup b;
        b.instance = instance_from(j.at("instance"));
        for (const auto& s : j.value("snapshots", json::array())) b.snapshots.push_back(snapshot_from(s));
        for (const auto& p : j.value("profiles", json::array())) b.profiles.push_back(profile_from(p));
        return b;
    } catch (const json::exception& e) {
        return base::make_error(std::errc::invalid_argument, std::string("malformed instance backup: ") + e.what());
    }
}

Result<InstanceBackup> collect_instance_backup(Transaction& tx, std::string_view project, std::string_view name) {
    InstanceBackup b;
    LXM_TRY(b.instance, get_instance(tx, project, name));
    LXM_TRY(b.snapshots, list_snapshots(tx, project, name));
    for (const auto& p : b.instance.profiles) {
        LXM_TRY(auto rec, get_profile(tx, project, p));
        b.profiles.push_back(std::move(rec));
    }
    // Ids are local to this database.
    b.instance.id = 0;
    for (auto& s : b.snapshots) s.id = 0;
    for (auto& p : b.profiles) p.id = 0;
    return b;
}

Result<void> write_backup_file(const std::string& path, const InstanceBackup& b) {
    return base::wrap(base::write_file_atomic(path, backup_to_json(b).dump(2) + "\n", 0600),
                      "write instance backup");
}

Result<InstanceBackup> read_backup_file(const std::string& path) {
    LXM_TRY(auto text, base::read_file(path));
    auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return base::make_error(std::errc::invalid_argument, "read " + path + ": not valid JSON");
    return base::wrap(backup_from_json(j), "read " + path);
}

Result<RecoverReport> recover_instances(Store& store, const std::vector<std::string>& backup_paths, bool dry_run) {
    RecoverReport report;
    for (const auto& path : backup_paths) {
        auto b = read_backup_file(path);
        if (!b) {
            report.failed.emplace_back(path, std::move(b).error());
            continue;
        }
        b->instance.id = 0;
        bool inserted = false;
        auto r = store.transaction([&](Transaction& tx) -> Result<void> {
            inserted = false;
            LXM_TRY(bool exists, instance_exists(tx, b->instance));
            if (exists || dry_run) {
                inserted = !exists;
                return {};
            }
            LXM_TRY_VOID(insert_backup(tx, *b));
            inserted = true;
            return {};
        });
        if (!r) {
            if (r.error().code == std::errc::device_or_resource_busy || r.error().code == std::errc::io_error)
                return std::unexpected(base::wrap(std::move(r).error(), "recover " + path));
            report.failed.emplace_back(path, base::wrap(std::move(r).error(), "recover " + label(b->instance)));
        } else if (inserted) {
            report.recovered.push_back(std::move(b->instance));
        } else {
            report.present.push_back(label(b->instance));
        }
    }
    return report;
}

}  // namespace lxm::store
