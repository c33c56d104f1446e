#include "lxm/core/backups.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <yaml-cpp/yaml.h>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/time.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/backup_tar.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/names.hpp"
#include "lxm/core/unix_time.hpp"
#include "store/archive_unpack.hpp"
#include "store/pool_fs.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;
using nlohmann::json;

namespace {

constexpr const char* kProject = "default";
constexpr size_t kIndexLimit = 16 << 20;

std::string pool_snapshot_name(const std::string& backup) { return "backup " + backup; }

json record_json(const BackupRecord& b) {
    json j{{"name", b.name},
           {"created_at", b.created_at},
           {"instance_only", b.instance_only},
           {"optimized_storage", b.optimized_storage},
           {"compression", b.compression},
           {"snapshots", b.snapshots},
           {"pool_snapshot", b.pool_snapshot}};
    j["expires_at"] = b.expires_at ? json(*b.expires_at) : json(nullptr);
    return j;
}

Result<BackupRecord> record_from(const std::string& text) {
    try {
        json j = json::parse(text);
        BackupRecord b;
        b.name = j.at("name").get<std::string>();
        b.created_at = j.value("created_at", int64_t{0});
        if (j.contains("expires_at") && !j["expires_at"].is_null()) b.expires_at = j["expires_at"].get<int64_t>();
        b.instance_only = j.value("instance_only", false);
        b.optimized_storage = j.value("optimized_storage", false);
        b.compression = j.value("compression", std::string("gzip"));
        b.snapshots = j.value("snapshots", std::vector<std::string>{});
        b.pool_snapshot = j.value("pool_snapshot", std::string());
        return b;
    } catch (const std::exception& e) {
        return base::make_error(std::errc::invalid_argument, std::string("backup record: ") + e.what());
    }
}

// YAML → JSON: plain scalars that read as booleans, null or integers become those; others strings.
json yaml_to_json(const YAML::Node& n) {
    switch (n.Type()) {
    case YAML::NodeType::Map: {
        json o = json::object();
        for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
        return o;
    }
    case YAML::NodeType::Sequence: {
        json a = json::array();
        for (const auto& v : n) a.push_back(yaml_to_json(v));
        return a;
    }
    case YAML::NodeType::Scalar: {
        const std::string& s = n.Scalar();
        if (n.Tag() == "!") return s;  // quoted
        if (s == "true") return true;
        if (s == "false") return false;
        if (s == "null" || s == "~") return nullptr;
        if (!s.empty() && s.size() < 19 && s.find_first_not_of("-0123456789") == std::string::npos &&
            s.find('-', 1) == std::string::npos && s != "-")
            return std::stoll(s);
        return s;
    }
    default: return nullptr;
    }
}

std::string scalar_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "";
    return v.dump();
}

ConfigMap config_map(const json& j) {
    ConfigMap out;
    if (!j.is_object()) return out;
    for (auto& [k, v] : j.items()) out[k] = scalar_text(v);
    return out;
}

DeviceMap device_map(const json& j) {
    DeviceMap out;
    if (!j.is_object()) return out;
    for (auto& [k, v] : j.items()) out[k] = config_map(v);
    return out;
}

int64_t time_ns(const json& j, const std::string& key) {
    if (!j.contains(key) || !j[key].is_string()) return 0;
    auto t = apitypes::parse_rfc3339(j[key].get<std::string>());
    if (!t || *t == apitypes::zero_time()) return 0;
    return t->time_since_epoch().count();
}

std::string short_snapshot_name(std::string s) {
    if (auto p = s.rfind('/'); p != std::string::npos) s = s.substr(p + 1);
    return s;
}

std::string safe_part(const std::string& name) {
    // Snapshot names become path components of the unpacked tree.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) return {};
    return name;
}

struct IndexInfo {
    std::string name;
    std::vector<std::string> snapshots;
    bool optimized = false;
    json config;  // {container, snapshots, ...} or null
};

Result<IndexInfo> parse_index(const std::string& text) {
    IndexInfo info;
    json j;
    try {
        j = yaml_to_json(YAML::Load(text));
    } catch (const std::exception& e) {
        return http_error(400, std::string("Invalid backup: backup/index.yaml: ") + e.what());
    }
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
        return http_error(400, "Invalid backup: backup/index.yaml has no instance name");
    info.name = j["name"].get<std::string>();
    if (j.contains("type") && j["type"].is_string() && j["type"] != "container")
        return http_error(400, "Backups of type \"" + scalar_text(j["type"]).substr(0, 32) + "\" are not supported");
    if (j.contains("snapshots") && j["snapshots"].is_array())
        for (const auto& s : j["snapshots"]) info.snapshots.push_back(short_snapshot_name(scalar_text(s)));
    info.optimized = j.value("optimized", false) == true;
    if (j.contains("config")) info.config = j["config"];
    return info;
}

}  // namespace

Backups::Backups(DaemonState& state, Instances& instances) : state_(state), instances_(instances) {
    instances_.set_cross_pool_copy([this](const apitypes::InstancesPost& req, const std::string& pool,
                                          const Progress& progress) { return copy_between_pools(req, pool, progress); });
}

Result<Backups::Where> Backups::where(const std::string& instance) {
    Where w;
    auto rec = state_.store().read([&](store::Transaction& tx) { return store::get_instance(tx, kProject, instance); });
    if (!rec && rec.error().code == std::errc::no_such_file_or_directory)
        return http_error(404, "Instance \"" + instance.substr(0, 64) + "\" not found");
    if (!rec) return std::unexpected(rec.error());
    w.rec = std::move(*rec);
    LXM_TRY(w.pool, state_.pool(w.rec.storage_pool.empty() ? state_.pool_name() : w.rec.storage_pool));
    w.dir = w.pool->instance_dir(instance) + "/backups";
    return w;
}

Result<std::vector<BackupRecord>> Backups::list(const std::string& instance) {
    LXM_TRY(Where w, where(instance));
    expire_instance(w);
    std::vector<BackupRecord> out;
    DIR* d = ::opendir(w.dir.c_str());
    if (!d) return out;
    std::vector<std::string> files;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.size() > 5 && n.ends_with(".json") && n.front() != '.') files.push_back(n);
    }
    ::closedir(d);
    for (const auto& f : files) {
        auto text = base::read_file(w.dir + "/" + f, 1 << 20);
        if (!text) continue;
        auto b = record_from(*text);
        if (!b) {
            LXM_WARN("instance {}: backup record {}: {}", instance, f, b.error().message());
            continue;
        }
        out.push_back(std::move(*b));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.created_at < b.created_at; });
    return out;
}

Result<BackupRecord> Backups::get(const std::string& instance, const std::string& backup) {
    LXM_TRY(auto all, list(instance));
    for (auto& b : all)
        if (b.name == backup) return b;
    return http_error(404, "Backup \"" + backup.substr(0, 64) + "\" not found");
}

Result<BackupCreate> Backups::check_create(const std::string& instance, BackupCreate req) {
    LXM_TRY(auto all, list(instance));
    if (req.name.empty()) {
        for (int i = 0;; ++i) {
            std::string n = "backup" + std::to_string(i);
            if (std::none_of(all.begin(), all.end(), [&](const auto& b) { return b.name == n; })) {
                req.name = n;
                break;
            }
        }
    }
    LXM_TRY_VOID(validate_object_name("Backup", req.name));
    for (const auto& b : all)
        if (b.name == req.name) return http_error(409, "Backup \"" + req.name + "\" already exists");
    if (auto c = parse_compression(req.compression); !c) return http_error(400, c.error().context);
    if (req.compression.empty()) req.compression = "gzip";
    if (req.optimized_storage) req.optimized_storage = false;  // the generic layout only (noted in the record)
    return req;
}

Result<void> Backups::create(const std::string& instance, const BackupCreate& req_in) {
    LXM_TRY(BackupCreate req, check_create(instance, req_in));
    std::lock_guard lk(mu_);
    LXM_TRY(Where w, where(instance));
    BackupRecord b;
    b.name = req.name;
    b.created_at = now_ns();
    b.expires_at = req.expires_at;
    b.instance_only = req.instance_only;
    b.optimized_storage = false;
    b.compression = req.compression;
    b.pool_snapshot = pool_snapshot_name(req.name);
    if (!req.instance_only) {
        LXM_TRY(auto snaps, instances_.snapshots(instance));
        for (const auto& s : snaps) b.snapshots.push_back(short_snapshot_name(s.name));
    }
    if (::mkdir(w.dir.c_str(), 0700) != 0 && errno != EEXIST) return base::errno_error("mkdir " + w.dir);

    // The pool snapshot is the backup's content; a running instance is frozen around it.
    LXM_TRY_VOID(take_pool_snapshot(instance, b.pool_snapshot));
    base::Reverter rev;
    rev.add([&] { (void)w.pool->delete_snapshot(instance, b.pool_snapshot); });
    LXM_TRY_VOID(base::write_file_atomic(w.dir + "/" + b.name + ".json", record_json(b).dump(), 0600));
    rev.success();
    LXM_INFO("instance {}: backup {} created ({} snapshots)", instance, b.name, b.snapshots.size());
    return {};
}

Result<void> Backups::remove_locked(const Where& w, const BackupRecord& b) {
    const std::string& instance = w.rec.name;
    auto snaps = w.pool->list_snapshots(instance);
    if (!b.pool_snapshot.empty() && std::find(snaps.begin(), snaps.end(), b.pool_snapshot) != snaps.end())
        LXM_TRY_VOID(base::wrap(w.pool->delete_snapshot(instance, b.pool_snapshot), "delete backup " + b.name));
    if (::unlink((w.dir + "/" + b.name + ".json").c_str()) != 0 && errno != ENOENT)
        return base::errno_error("remove backup record " + b.name);
    return {};
}

Result<void> Backups::remove(const std::string& instance, const std::string& backup) {
    LXM_TRY(BackupRecord b, get(instance, backup));
    std::lock_guard lk(mu_);
    LXM_TRY(Where w, where(instance));
    return remove_locked(w, b);
}

Result<void> Backups::rename(const std::string& instance, const std::string& from, const std::string& to) {
    LXM_TRY_VOID(validate_object_name("Backup", to));
    LXM_TRY(BackupRecord b, get(instance, from));
    if (get(instance, to)) return http_error(409, "Backup \"" + to + "\" already exists");
    std::lock_guard lk(mu_);
    LXM_TRY(Where w, where(instance));
    BackupRecord nb = b;
    nb.name = to;
    nb.pool_snapshot = pool_snapshot_name(to);
    LXM_TRY_VOID(base::wrap(w.pool->rename_snapshot(instance, b.pool_snapshot, nb.pool_snapshot), "rename backup"));
    auto wr = base::write_file_atomic(w.dir + "/" + to + ".json", record_json(nb).dump(), 0600);
    if (!wr) {
        (void)w.pool->rename_snapshot(instance, nb.pool_snapshot, b.pool_snapshot);
        return std::unexpected(wr.error());
    }
    ::unlink((w.dir + "/" + from + ".json").c_str());
    return {};
}

void Backups::expire_instance(const Where& w) {
    DIR* d = ::opendir(w.dir.c_str());
    if (!d) return;
    std::vector<std::string> files;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.size() > 5 && n.ends_with(".json") && n.front() != '.') files.push_back(n);
    }
    ::closedir(d);
    int64_t now = now_ns();
    for (const auto& f : files) {
        auto text = base::read_file(w.dir + "/" + f, 1 << 20);
        if (!text) continue;
        auto b = record_from(*text);
        if (!b || !b->expires_at || *b->expires_at > now) continue;
        std::lock_guard lk(mu_);
        if (auto r = remove_locked(w, *b); !r)
            LXM_WARN("instance {}: expired backup {}: {}", w.rec.name, b->name, r.error().message());
        else LXM_INFO("instance {}: backup {} expired", w.rec.name, b->name);
    }
}

void Backups::expire() {
    auto names = instances_.names();
    if (!names) return;
    for (const auto& n : *names)
        if (auto w = where(n)) expire_instance(*w);
}

void Backups::drop_stale_pool_snapshots() {
    auto names = instances_.names();
    if (!names) {
        LXM_WARN("stale pool snapshots: {}", names.error().message());
        return;
    }
    std::lock_guard lk(mu_);
    for (const auto& n : *names) {
        auto w = where(n);
        if (!w) continue;
        for (const auto& snap : w->pool->list_snapshots(n)) {
            if (snap.find(' ') == std::string::npos) continue;  // a user snapshot
            const std::string backup = snap.starts_with("backup ") ? snap.substr(7) : std::string();
            if (!backup.empty() && base::path_exists(w->dir + "/" + backup + ".json")) continue;  // a backup's content
            // An interrupted refresh whose undo failed keeps its safety snapshot (reconcile tries again).
            if (snap == kRefreshSafetySnapshot && w->rec.config.count(std::string(kRefreshingKey))) continue;
            if (auto r = w->pool->delete_snapshot(n, snap); !r)
                LXM_WARN("instance {}: dropping the stale pool snapshot \"{}\": {}", n, snap, r.error().message());
            else
                LXM_INFO("instance {}: dropped the pool snapshot \"{}\" left by an interrupted operation", n, snap);
        }
    }
}

Result<void> Backups::take_pool_snapshot(const std::string& instance, const std::string& pool_snapshot) {
    LXM_TRY(Where w, where(instance));
    LXM_TRY(auto st, instances_.state(instance));
    bool thaw = false;
    if (st.status == "Running") {
        LXM_TRY_VOID(base::wrap(instances_.freeze(instance), "freeze " + instance));
        thaw = true;
    }
    auto snap = w.pool->create_snapshot(instance, pool_snapshot);
    if (thaw)
        if (auto r = instances_.unfreeze(instance); !r)
            LXM_ERROR("instance {}: thaw after snapshot: {}", instance, r.error().message());
    if (!snap) return std::unexpected(base::wrap(snap.error(), "pool snapshot of " + instance));
    return {};
}

Result<void> Backups::drop_pool_snapshot(const std::string& instance, const std::string& pool_snapshot) {
    LXM_TRY(Where w, where(instance));
    auto snaps = w.pool->list_snapshots(instance);
    if (std::find(snaps.begin(), snaps.end(), pool_snapshot) == snaps.end()) return {};
    return w.pool->delete_snapshot(instance, pool_snapshot);
}

Result<void> Backups::write_tarball(const std::string& instance, const std::string& backup, int fd) {
    LXM_TRY(BackupRecord b, get(instance, backup));
    LXM_TRY(auto compression, parse_compression(b.compression));
    LXM_TRY(TarStream tar, TarStream::open_fd(fd, compression));
    LXM_TRY_VOID(write_instance_tar(instance, b.pool_snapshot, b.snapshots, tar));
    LXM_TRY_VOID(tar.close());
    LXM_INFO("instance {}: backup {} exported ({} bytes of files)", instance, b.name, tar.bytes_in());
    return {};
}

Result<void> Backups::write_instance_tar(const std::string& instance, const std::string& root_pool_snapshot,
                                         const std::vector<std::string>& wanted, TarStream& tar) {
    LXM_TRY(Where w, where(instance));
    LXM_TRY(apitypes::Instance api, instances_.get(instance));
    LXM_TRY(auto snaps, instances_.snapshots(instance));
    // The wanted snapshots that still exist, in the order they were taken.
    std::vector<apitypes::InstanceSnapshot> included;
    for (const auto& s : snaps) {
        std::string sn = short_snapshot_name(s.name);
        if (std::find(wanted.begin(), wanted.end(), sn) != wanted.end()) included.push_back(s);
    }
    if (included.size() != wanted.size())
        LXM_WARN("instance {}: {} of the snapshots asked for were deleted since; sent without them", instance,
                 wanted.size() - included.size());
    uint32_t shift_base = 0, shift_size = 0;
    if (w.rec.idmap_base && w.rec.idmap_size) {
        shift_base = static_cast<uint32_t>(*w.rec.idmap_base);
        shift_size = static_cast<uint32_t>(*w.rec.idmap_size);
    }

    json snap_names = json::array(), snap_objs = json::array();
    for (auto& s : included) {
        std::string sn = short_snapshot_name(s.name);
        snap_names.push_back(sn);
        json sj = s;
        sj["name"] = sn;
        snap_objs.push_back(sj);
    }
    json container = api;
    container.erase("state");
    container.erase("backups");
    container.erase("snapshots");
    json config{{"container", container},
                {"snapshots", snap_objs},
                {"pool", {{"name", w.rec.storage_pool}, {"driver", w.pool->driver_name()}, {"config", json::object()}}},
                {"volume",
                 {{"name", instance}, {"type", "container"}, {"content_type", "filesystem"}, {"config", json::object()}}}};
    json index{{"name", instance},       {"backend", w.pool->driver_name()}, {"pool", w.rec.storage_pool},
               {"snapshots", snap_names}, {"optimized", false},               {"optimized_header", false},
               {"type", "container"},    {"config", config}};

    LXM_TRY_VOID(tar.add_dir("backup", 0700));
    LXM_TRY_VOID(tar.add_file("backup/index.yaml", index.dump(2) + "\n", 0644));
    LXM_TRY_VOID(tar.add_dir("backup/snapshots", 0700));
    for (const auto& s : included) {
        std::string sn = short_snapshot_name(s.name);
        LXM_TRY(store::InstanceRootfs vol, w.pool->snapshot_rootfs(instance, sn));
        LXM_TRY(VolumeView view, open_volume_view(vol));
        LXM_TRY_VOID(tar.add_dir("backup/snapshots/" + sn, 0700));
        LXM_TRY_VOID(tar.add_tree(view.path, "backup/snapshots/" + sn + "/rootfs", shift_base, shift_size));
    }
    LXM_TRY_VOID(tar.add_dir("backup/container", 0700));
    LXM_TRY_VOID(tar.add_file("backup/container/backup.yaml", config.dump(2) + "\n", 0600));
    std::string idir = w.pool->instance_dir(instance);
    if (base::path_exists(idir + "/metadata.yaml")) {
        LXM_TRY(std::string meta, base::read_file(idir + "/metadata.yaml", 1 << 20));
        LXM_TRY_VOID(tar.add_file("backup/container/metadata.yaml", meta, 0644));
        LXM_TRY_VOID(tar.add_host_dir(idir + "/templates", "backup/container/templates"));
    }
    LXM_TRY(store::InstanceRootfs vol, w.pool->snapshot_rootfs(instance, root_pool_snapshot));
    LXM_TRY(VolumeView view, open_volume_view(vol));
    LXM_TRY_VOID(tar.add_tree(view.path, "backup/container/rootfs", shift_base, shift_size));
    return {};
}

Result<std::string> Backups::streamed_import_name(const StreamedImport& s, const std::string& name_override) {
    auto text = base::read_file(s.dir() + "/index.yaml", kIndexLimit);
    if (!text) return http_error(400, "Invalid backup file: no backup/index.yaml (not an instance backup)");
    LXM_TRY(IndexInfo info, parse_index(*text));
    std::string name = name_override.empty() ? info.name : name_override;
    LXM_TRY_VOID(validate_instance_name(name));
    if (instances_.get(name)) return http_error(409, "Instance \"" + name + "\" already exists");
    return name;
}

Result<std::string> Backups::import_unpacked(const std::string& tmp, const std::string& name_override,
                                             const std::string& pool_name, const Progress& progress,
                                             const ImportAdjust& adjust) {
    auto text = base::read_file(tmp + "/index.yaml", kIndexLimit);
    if (!text) return http_error(400, "Invalid backup: no backup/index.yaml");
    LXM_TRY(IndexInfo info, parse_index(*text));
    if (info.optimized)
        return http_error(400, "Optimized (driver-specific) backups are not supported: export without optimized storage");

    Instances::TreeImport spec;
    auto& rec = spec.rec;
    rec.name = name_override.empty() ? info.name : name_override;
    LXM_TRY_VOID(validate_instance_name(rec.name));
    if (instances_.get(rec.name)) return http_error(409, "Instance \"" + rec.name + "\" already exists");
    json cfg = info.config;
    if (!cfg.is_object() && base::path_exists(tmp + "/container/backup.yaml")) {
        auto by = base::read_file(tmp + "/container/backup.yaml", kIndexLimit);
        if (by) {
            try {
                cfg = yaml_to_json(YAML::Load(*by));
            } catch (const std::exception& e) {
                return http_error(400, std::string("Invalid backup: backup.yaml: ") + e.what());
            }
        }
    }
    json container = cfg.is_object() && cfg.contains("container") ? cfg["container"] : json::object();
    rec.architecture = container.value("architecture", std::string());
    rec.description = scalar_text(container.value("description", json("")));
    rec.ephemeral = container.value("ephemeral", false) == true;
    rec.config = config_map(container.value("config", json::object()));
    rec.devices = device_map(container.value("devices", json::object()));
    rec.created_at = time_ns(container, "created_at");
    if (container.contains("profiles") && container["profiles"].is_array()) {
        for (const auto& p : container["profiles"]) rec.profiles.push_back(scalar_text(p));
    } else {
        rec.profiles = {"default"};
    }
    std::map<std::string, json> snap_objs;
    if (cfg.is_object() && cfg.contains("snapshots") && cfg["snapshots"].is_array())
        for (const auto& s : cfg["snapshots"])
            if (s.is_object()) snap_objs[short_snapshot_name(scalar_text(s.value("name", json(""))))] = s;

    for (const auto& sn : info.snapshots) {
        std::string part = safe_part(sn);
        if (part.empty()) return http_error(400, "Invalid backup: snapshot name \"" + sn.substr(0, 64) + "\"");
        std::string tree = tmp + "/snapshots/" + part + "/rootfs";
        if (!base::path_exists(tree))
            return http_error(400, "Invalid backup: snapshot \"" + part + "\" is listed but its files are missing");
        store::SnapshotRecord sr;
        sr.name = part;
        if (auto it = snap_objs.find(part); it != snap_objs.end()) {
            const json& s = it->second;
            sr.config = config_map(s.value("config", json::object()));
            sr.devices = device_map(s.value("devices", json::object()));
            sr.description = scalar_text(s.value("description", json("")));
            sr.created_at = time_ns(s, "created_at");
            if (int64_t e = time_ns(s, "expires_at"); e > 0) sr.expires_at = e;
        }
        spec.snapshots.push_back(std::move(sr));
        spec.snapshot_trees.push_back(tree);
    }
    spec.rootfs_tree = tmp + "/container/rootfs";
    if (!base::path_exists(spec.rootfs_tree))
        return http_error(400, "Invalid backup: backup/container/rootfs is missing");
    if (base::path_exists(tmp + "/container/metadata.yaml")) spec.templates_dir = tmp + "/container";
    spec.pool = pool_name;
    if (adjust) adjust(spec);
    std::string name = spec.rec.name;
    LXM_TRY_VOID(instances_.create_from_trees(std::move(spec), progress));
    LXM_INFO("instance {} created from a backup layout ({} snapshots)", name, info.snapshots.size());
    return name;
}

}  // namespace lxm::core
