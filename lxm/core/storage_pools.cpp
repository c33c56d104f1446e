#include "lxm/core/storage_pools.hpp"

#include <dirent.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/time.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/names.hpp"
#include "store/instances.hpp"
#include "store/pool_driver.hpp"
#include "store/profiles.hpp"
#include "store/snapshots.hpp"
#include "store/storage.hpp"
#include "store/errors.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;
using nlohmann::json;

namespace {

constexpr const char* kProject = "default";

base::Unexpected pool_not_found(const std::string& name) {
    return http_error(404, "Storage pool \"" + name.substr(0, 64) + "\" not found");
}

// LXD shows "Created" / "Pending" / "Errored".
std::string status_of(const std::string& s) {
    if (s.empty()) return "Unknown";
    std::string out = s;
    out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return out;
}

// The root disk pool a device map names ("" when none).
std::string root_pool(const store::DeviceMap& devices) {
    for (const auto& [n, d] : devices) {
        auto t = d.find("type");
        auto p = d.find("path");
        auto pool = d.find("pool");
        if (t != d.end() && t->second == "disk" && p != d.end() && p->second == "/" && pool != d.end()) return pool->second;
    }
    return {};
}

Result<void> validate_pool_config(const store::ConfigMap& config) {
    for (const auto& [k, v] : config) {
        if (k == "source") {
            if (v.empty() || v.front() != '/')
                return http_error(400, "Invalid value for config key \"source\": an absolute directory path");
        } else if (k.starts_with("user.")) {
            continue;
        } else {
            return http_error(400, "Unknown storage pool config key \"" + k.substr(0, 80) + "\" (supported: source, user.*)");
        }
    }
    return {};
}

std::string pool_path(const DaemonState& st, const store::StoragePoolRecord& rec) {
    auto it = rec.config.find("source");
    if (it != rec.config.end() && !it->second.empty()) return it->second;
    return st.paths().pool(rec.name);
}

bool dir_is_empty(const std::string& path) {
    DIR* d = ::opendir(path.c_str());
    if (!d) return true;
    bool empty = true;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") {
            empty = false;
            break;
        }
    }
    ::closedir(d);
    return empty;
}

}  // namespace

Result<void> StoragePools::startup() {
    // Rows of a create that a kill interrupted (the pool was never opened).
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY(auto recs, store::list_storage_pools(tx));
        for (const auto& r : recs) {
            if (r.status != "pending") continue;
            LXM_WARN("storage pool {}: its creation was interrupted; removing the row", r.name);
            LXM_TRY_VOID(store::delete_storage_pool(tx, r.name));
        }
        return {};
    }));
    // As `lxd init`: the default profile's root disk is on the default pool.
    return state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        auto p = store::get_profile(tx, kProject, "default");
        if (!p) return store::is_not_found(p.error()) ? Result<void>{} : std::unexpected(p.error());
        for (const auto& [n, d] : p->devices) {
            auto t = d.find("type");
            auto path = d.find("path");
            if (t != d.end() && t->second == "disk" && path != d.end() && path->second == "/") return {};
        }
        if (p->devices.count("root")) return {};
        p->devices["root"] = {{"type", "disk"}, {"path", "/"}, {"pool", state_.pool_name()}};
        return store::update_profile(tx, *p);
    });
}

Result<std::vector<std::string>> StoragePools::names() {
    return state_.store().read([](store::Transaction& tx) { return store::list_storage_pool_names(tx); });
}

Result<std::vector<std::string>> StoragePools::used_by(const std::string& name) {
    return state_.store().read([&](store::Transaction& tx) -> Result<std::vector<std::string>> {
        std::vector<std::string> out;
        LXM_TRY(auto insts, store::list_instances(tx, std::string_view(kProject)));
        for (const auto& i : insts) {
            std::string p = i.storage_pool.empty() ? state_.pool_name() : i.storage_pool;
            if (p == name) out.push_back("/1.0/instances/" + i.name);
        }
        LXM_TRY(auto profiles, store::list_profiles(tx, kProject));
        for (const auto& p : profiles)
            if (root_pool(p.devices) == name) out.push_back("/1.0/profiles/" + p.name);
        return out;
    });
}

Result<json> StoragePools::to_json(const std::string& name) {
    auto rec = state_.store().read([&](store::Transaction& tx) { return store::get_storage_pool(tx, name); });
    if (!rec && store::is_not_found(rec.error())) return pool_not_found(name);
    if (!rec) return std::unexpected(rec.error());
    LXM_TRY(auto ub, used_by(name));
    std::string status = rec->status;
    if (status == "created" && !state_.pool(name)) status = "unavailable";
    json config = json::object();
    for (const auto& [k, v] : rec->config) config[k] = v;
    if (!config.contains("source")) config["source"] = pool_path(state_, *rec);
    return json{{"name", rec->name},         {"driver", rec->driver},
                {"description", rec->description}, {"config", config},
                {"status", status_of(status)}, {"used_by", ub},
                {"locations", json::array({"none"})}};
}

Result<json> StoragePools::get(const std::string& name) { return to_json(name); }

Result<std::vector<json>> StoragePools::list() {
    LXM_TRY(auto ns, names());
    std::vector<json> out;
    for (const auto& n : ns) {
        auto j = to_json(n);
        if (!j && apitypes::http_status_of(j.error()) == 404) continue;
        if (!j) return std::unexpected(j.error());
        out.push_back(std::move(*j));
    }
    return out;
}

Result<json> StoragePools::etag_state(const std::string& name) {
    LXM_TRY(json j, to_json(name));
    return json{{"description", j["description"]}, {"config", j["config"]}};
}

Result<void> StoragePools::create(const json& body) {
    if (!body.is_object()) return http_error(400, "The request body must be a JSON object");
    std::string name = body.value("name", "");
    std::string driver = body.value("driver", "");
    LXM_TRY_VOID(validate_object_name("Storage pool", name));
    if (driver != "dir" && driver != "overlay" && driver != "btrfs")
        return http_error(400, "Storage driver \"" + driver.substr(0, 32) + "\" is not supported (supported: dir, overlay, btrfs)");
    store::StoragePoolRecord rec;
    rec.name = name;
    rec.driver = driver;
    rec.description = body.value("description", "");
    rec.status = "pending";
    if (body.contains("config")) {
        if (!body["config"].is_object()) return http_error(400, "config must be an object of strings");
        for (const auto& [k, v] : body["config"].items()) {
            if (!v.is_string()) return http_error(400, "Config key \"" + k.substr(0, 80) + "\" must have a string value");
            rec.config[k] = v.get<std::string>();
        }
    }
    LXM_TRY_VOID(validate_pool_config(rec.config));
    bool has_source = rec.config.count("source") > 0;
    if (driver == "btrfs" && !has_source)
        return http_error(400, "A btrfs pool needs a source: a directory on a mounted btrfs filesystem");
    {
        auto cur = state_.store().read([&](store::Transaction& tx) { return store::get_storage_pool(tx, name); });
        if (cur) return http_error(409, "Storage pool \"" + name + "\" already exists");
    }
    std::string path = pool_path(state_, rec);
    if (path.find("/../") != std::string::npos || path.ends_with("/.."))
        return http_error(400, "The pool source must not contain \"..\"");
    for (const auto& other : state_.pool_names()) {
        auto p = state_.pool(other);
        if (p && (*p)->path() == path) return http_error(400, "Pool \"" + other + "\" already uses " + path);
    }
    bool existed = base::path_exists(path);
    if (existed && !dir_is_empty(path) &&
        !(base::path_exists(path + "/containers") && base::path_exists(path + "/images")))
        return http_error(400, "The source \"" + path + "\" is not empty");

    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        auto cur = store::get_storage_pool(tx, name);
        if (cur) return http_error(409, "Storage pool \"" + name + "\" already exists");
        if (!store::is_not_found(cur.error())) return std::unexpected(cur.error());
        LXM_TRY(auto id, store::create_storage_pool(tx, rec));
        (void)id;
        return {};
    }));
    base::Reverter rev;
    rev.add([&] {
        (void)state_.store().transaction([&](store::Transaction& tx) { return store::delete_storage_pool(tx, name); });
        if (!existed) (void)base::remove_tree(path);
    });
    auto driver_r = store::open_pool(driver, path, rec.config);
    if (!driver_r) {
        if (driver_r.error().code == std::errc::not_supported || driver_r.error().code == std::errc::invalid_argument)
            return http_error(400, "Storage pool \"" + name + "\": " + driver_r.error().message());
        return std::unexpected(base::wrap(driver_r.error(), "create storage pool " + name));
    }
    rec.status = "created";
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) { return store::update_storage_pool(tx, rec); }));
    state_.add_pool(name, std::move(*driver_r));
    rev.success();
    LXM_INFO("storage pool {} created ({} at {})", name, driver, path);
    return {};
}

Result<void> StoragePools::update(const std::string& name, const json& body) {
    if (!body.is_object()) return http_error(400, "The request body must be a JSON object");
    return state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        auto rec = store::get_storage_pool(tx, name);
        if (!rec && store::is_not_found(rec.error())) return pool_not_found(name);
        if (!rec) return std::unexpected(rec.error());
        store::ConfigMap config;
        if (body.contains("config") && !body["config"].is_null()) {
            if (!body["config"].is_object()) return http_error(400, "config must be an object of strings");
            for (const auto& [k, v] : body["config"].items()) {
                if (!v.is_string()) return http_error(400, "Config key \"" + k.substr(0, 80) + "\" must have a string value");
                config[k] = v.get<std::string>();
            }
        }
        LXM_TRY_VOID(validate_pool_config(config));
        // The source cannot change (clients send it back as shown: that is fine).
        std::string cur_source = pool_path(state_, *rec);
        if (auto it = config.find("source"); it != config.end() && it->second != cur_source)
            return http_error(400, "The source of a storage pool cannot be changed");
        if (rec->config.count("source")) config["source"] = rec->config.at("source");
        else config.erase("source");
        rec->config = std::move(config);
        rec->description = body.value("description", "");
        return store::update_storage_pool(tx, *rec);
    });
}

Result<void> StoragePools::remove(const std::string& name) {
    auto rec = state_.store().read([&](store::Transaction& tx) { return store::get_storage_pool(tx, name); });
    if (!rec && store::is_not_found(rec.error())) return pool_not_found(name);
    if (!rec) return std::unexpected(rec.error());
    if (name == state_.pool_name()) return http_error(400, "The default storage pool cannot be deleted");
    LXM_TRY(auto ub, used_by(name));
    if (!ub.empty()) {
        std::string list;
        for (size_t i = 0; i < ub.size() && i < 10; ++i) list += (i ? ", " : "") + ub[i];
        if (ub.size() > 10) list += ", ...";
        return http_error(400, "The storage pool \"" + name + "\" still has volumes or is used by profiles (" + list +
                                   "): delete those first");
    }
    // Out of service first (no new instance can land in it), then the row, then the files.
    auto driver = state_.remove_pool(name);
    if (auto r = state_.store().transaction([&](store::Transaction& tx) { return store::delete_storage_pool(tx, name); });
        !r) {
        if (driver) state_.add_pool(name, std::move(driver));
        return r;
    }
    if (driver) {
        for (const auto& fp : driver->list_images())
            if (auto r = driver->delete_image(fp); !r) LXM_WARN("storage pool {}: image {}: {}", name, fp, r.error().message());
        std::string path = driver->path();
        driver.reset();
        if (!rec->config.count("source")) {
            if (auto r = base::remove_tree(path); !r) LXM_WARN("storage pool {}: remove {}: {}", name, path, r.error().message());
        } else {
            for (const char* sub : {"images", "containers", "tmp"})
                if (auto r = base::remove_tree(path + "/" + sub); !r)
                    LXM_WARN("storage pool {}: remove {}/{}: {}", name, path, sub, r.error().message());
        }
    }
    LXM_INFO("storage pool {} deleted", name);
    return {};
}

Result<json> StoragePools::resources(const std::string& name) {
    LXM_TRY(json j, to_json(name));
    (void)j;
    auto d = state_.pool(name);
    if (!d) return http_error(503, "Storage pool \"" + name + "\" is not available");
    struct statvfs sv {};
    if (::statvfs((*d)->path().c_str(), &sv) != 0) return base::errno_error("statvfs " + (*d)->path());
    LXM_TRY(store::PoolUsage u, (*d)->usage());
    return json{{"space", {{"used", u.used_bytes}, {"total", u.total_bytes.value_or(0)}}},
                {"inodes", {{"used", static_cast<uint64_t>(sv.f_files - sv.f_ffree)}, {"total", static_cast<uint64_t>(sv.f_files)}}}};
}

Result<std::vector<json>> StoragePools::volumes(const std::string& name) {
    LXM_TRY(json j, to_json(name));
    (void)j;
    std::vector<json> out;
    auto vol = [&](const std::string& vname, const std::string& type, int64_t created_ns, std::vector<std::string> ub,
                   json config) {
        return json{{"name", vname},
                    {"type", type},
                    {"description", ""},
                    {"config", std::move(config)},
                    {"used_by", std::move(ub)},
                    {"location", "none"},
                    {"content_type", "filesystem"},
                    {"project", kProject},
                    {"created_at", created_ns ? apitypes::Timestamp(std::chrono::nanoseconds(created_ns))
                                              : apitypes::zero_time()}};
    };
    struct Row {
        store::InstanceRecord inst;
        std::vector<store::SnapshotRecord> snaps;
    };
    LXM_TRY(auto rows, state_.store().read([&](store::Transaction& tx) -> Result<std::vector<Row>> {
        std::vector<Row> r;
        LXM_TRY(auto insts, store::list_instances(tx, std::string_view(kProject)));
        for (auto& i : insts) {
            std::string p = i.storage_pool.empty() ? state_.pool_name() : i.storage_pool;
            if (p != name) continue;
            LXM_TRY(auto snaps, store::list_snapshots(tx, kProject, i.name));
            r.push_back(Row{std::move(i), std::move(snaps)});
        }
        return r;
    }));
    auto d = state_.pool(name);
    for (const auto& row : rows) {
        json cfg = json::object();
        if (d)
            if (auto u = (*d)->instance_usage(row.inst.name); u) cfg["volatile.usage"] = std::to_string(*u);
        out.push_back(vol(row.inst.name, "container", row.inst.created_at, {"/1.0/instances/" + row.inst.name}, cfg));
        for (const auto& s : row.snaps) {
            if (s.config.count(std::string(kCreatingKey)) || s.config.count(std::string(kDeletingKey))) continue;
            out.push_back(vol(row.inst.name + "/" + s.name, "container", s.created_at,
                              {"/1.0/instances/" + row.inst.name + "/snapshots/" + s.name}, json::object()));
        }
    }
    if (d)
        for (const auto& fp : (*d)->list_images()) out.push_back(vol(fp, "image", 0, {"/1.0/images/" + fp}, json::object()));
    return out;
}

}  // namespace lxm::core
