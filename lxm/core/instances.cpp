#include "lxm/core/instances.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <atomic>
#include <map>
#include <thread>
#include <unordered_map>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/safe_path.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/names.hpp"
#include "lxm/core/networks.hpp"
#include "lxm/core/unix_time.hpp"
#include "lxm/runtime/idmap.hpp"
#include "lxm/runtime/mount.hpp"
#include "store/images.hpp"
#include "store/profiles.hpp"
#include "store/server_config.hpp"
#include "store/snapshots.hpp"
#include "store/errors.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;
using nlohmann::json;

namespace {

constexpr const char* kProject = "default";

base::Unexpected instance_not_found(const std::string& name) {
    return http_error(404, "Instance \"" + name.substr(0, 64) + "\" not found");
}

bool running_status(const json& st) {
    std::string s = st.value("status", "Stopped");
    return s == "Running" || s == "Frozen" || s == "Stopping";
}

apitypes::StatusCode status_code_of(const std::string& s) {
    if (s == "Running") return apitypes::StatusCode::running;
    if (s == "Frozen") return apitypes::StatusCode::frozen;
    if (s == "Stopping") return apitypes::StatusCode::stopping;
    if (s == "Error") return apitypes::StatusCode::error;
    return apitypes::StatusCode::stopped;
}

// "c1" or "c1/snap" -> (c1, snap or "").
std::pair<std::string, std::string> split_copy_source(const std::string& s) {
    auto slash = s.find('/');
    if (slash == std::string::npos) return {s, ""};
    return {s.substr(0, slash), s.substr(slash + 1)};
}

// As LXD: which of the source's keys a copy keeps (no volatile state but the base image).
bool kept_when_copying(const std::string& key) {
    return !key.starts_with("volatile.") || key == "volatile.base_image";
}

ConfigMap without_volatile(const ConfigMap& c) {
    ConfigMap out;
    for (const auto& [k, v] : c)
        if (!k.starts_with("volatile.")) out.emplace(k, v);
    return out;
}

bool privileged_of(const ConfigMap& expanded) {
    auto it = expanded.find("security.privileged");
    return it != expanded.end() && parse_bool(it->second).value_or(false);
}

// The monitor must answer quickly; a wedged one must not hang the API.
void set_timeouts(int fd, int seconds) {
    timeval tv{};
    tv.tv_sec = seconds;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

Instances::Instances(DaemonState& state, Images& images) : state_(state), images_(images) {}

void Instances::emit(const std::string& action, const std::string& name, const json& ctx) const {
    if (lifecycle_) lifecycle_(action, name, ctx);
}

std::string Instances::backup_path(const std::string& name) const {
    return pool_of(name).instance_dir(name) + "/" + std::string(store::kBackupFileName);
}

// ---- reads -------------------------------------------------------------------------------

Result<Instances::Loaded> Instances::load(const std::string& name) {
    auto r = state_.store().read([&](store::Transaction& tx) -> Result<Loaded> {
        auto rec = store::get_instance(tx, kProject, name);
        if (!rec) return std::unexpected(rec.error());
        Loaded l;
        l.rec = std::move(*rec);
        std::vector<const ConfigMap*> cl;
        std::vector<const DeviceMap*> dl;
        std::vector<store::ProfileRecord> profiles;
        for (const auto& p : l.rec.profiles) {
            LXM_TRY(auto pr, store::get_profile(tx, kProject, p));
            profiles.push_back(std::move(pr));
        }
        for (const auto& p : profiles) {
            cl.push_back(&p.config);
            dl.push_back(&p.devices);
        }
        cl.push_back(&l.rec.config);
        dl.push_back(&l.rec.devices);
        l.expanded_config = expand_config(cl);
        l.expanded_devices = expand_devices(dl);
        return l;
    });
    if (!r && store::is_not_found(r.error()) && r.error().context.find("instance") != std::string::npos)
        return instance_not_found(name);
    if (!r && store::is_not_found(r.error())) return instance_not_found(name);
    return r;
}

Result<std::optional<runtime::MonitorClient>> Instances::monitor(const std::string& name) {
    std::string sock = state_.paths().monitor_socket(name);
    if (!base::path_exists(sock)) return std::optional<runtime::MonitorClient>();
    auto c = runtime::MonitorClient::connect(sock);
    if (!c) {
        // A socket file nobody answers on: the monitor is gone (killed); the container with it.
        if (c.error().code == std::errc::connection_refused || c.error().code == std::errc::no_such_file_or_directory)
            return std::optional<runtime::MonitorClient>();
        return std::unexpected(c.error());
    }
    set_timeouts(c->fd(), 10);
    return std::optional<runtime::MonitorClient>(std::move(*c));
}

Result<json> Instances::monitor_state(const std::string& name) {
    LXM_TRY(auto mc, monitor(name));
    if (!mc) return json{{"status", "Stopped"}};
    auto st = mc->state();
    if (!st) {
        LXM_DEBUG("instance {}: monitor state: {}", name, st.error().message());
        return json{{"status", "Error"}, {"error", st.error().message()}};
    }
    return *st;
}

apitypes::Instance Instances::to_api(const Loaded& l, const json& ms) const {
    apitypes::Instance i;
    const auto& r = l.rec;
    i.architecture = r.architecture.empty() ? "x86_64" : r.architecture;
    i.config = r.config;
    i.devices = r.devices;
    i.ephemeral = r.ephemeral;
    i.profiles = r.profiles;
    i.stateful = r.stateful;
    i.description = r.description;
    i.created_at = api_time(r.created_at);
    i.last_used_at = api_time(r.last_used_at);
    i.expanded_config = l.expanded_config;
    i.expanded_devices = l.expanded_devices;
    i.name = r.name;
    i.status = ms.value("status", "Stopped");
    if (i.status == "Stopping") i.status = "Running";  // LXD shows Running until it is down
    i.status_code = status_code_of(i.status);
    i.type = r.type;
    i.project = r.project;
    return i;
}

Result<std::vector<std::string>> Instances::names() {
    return state_.store().read([](store::Transaction& tx) { return store::list_instance_names(tx, kProject); });
}

Result<apitypes::Instance> Instances::get(const std::string& name, bool full) {
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(json ms, monitor_state(name));
    apitypes::Instance i = to_api(l, ms);
    if (full) {
        i.state = state_of(l, ms);
        LXM_TRY(i.snapshots, snapshots(name));
        i.backups = std::vector<apitypes::InstanceBackup>{};
    }
    return i;
}

std::vector<json> Instances::monitor_states(const std::vector<std::string>& names) {
    // A stopped instance has no monitor socket (the monitor removes it on exit; a killed
    // monitor's stale file is refused at connect): one stat each, no connect.
    std::vector<json> out(names.size(), json{{"status", "Stopped"}});
    std::vector<size_t> live;
    for (size_t k = 0; k < names.size(); ++k)
        if (base::path_exists(state_.paths().monitor_socket(names[k]))) live.push_back(k);
    monitor_queries_ += live.size();
    auto ask = [&](size_t k) {
        auto ms = monitor_state(names[k]);
        out[k] = ms ? std::move(*ms) : json{{"status", "Error"}, {"error", ms.error().message()}};
    };
    // Running monitors are asked concurrently (each answers from its own loop).
    constexpr size_t kMaxWorkers = 8;
    size_t workers = std::min(kMaxWorkers, live.size());
    if (workers <= 1) {
        for (size_t k : live) ask(k);
        return out;
    }
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    pool.reserve(workers);
    for (size_t w = 0; w < workers; ++w)
        pool.emplace_back([&] {
            for (size_t i = next++; i < live.size(); i = next++) ask(live[i]);
        });
    for (auto& t : pool) t.join();
    return out;
}

Result<std::vector<apitypes::Instance>> Instances::list(bool full) {
    // One read transaction with a fixed number of queries, whatever the number of instances.
    struct Rows {
        std::vector<store::InstanceRecord> instances;
        std::vector<store::ProfileRecord> profiles;
        std::unordered_map<int64_t, std::vector<store::SnapshotRecord>> snapshots;
    };
    auto read = state_.store().read([&](store::Transaction& tx) -> Result<Rows> {
        Rows r;
        LXM_TRY(r.instances, store::list_instances(tx, std::string_view(kProject)));
        LXM_TRY(r.profiles, store::list_profiles(tx, kProject));
        if (full) {
            LXM_TRY(r.snapshots, store::list_project_snapshots(tx, kProject));
        }
        return r;
    });
    if (!read) return std::unexpected(read.error());
    Rows& rows = *read;
    std::unordered_map<std::string, const store::ProfileRecord*> profiles;
    for (const auto& p : rows.profiles) profiles.emplace(p.name, &p);

    std::vector<std::string> names;
    names.reserve(rows.instances.size());
    for (const auto& r : rows.instances) names.push_back(r.name);
    std::vector<json> states = monitor_states(names);

    std::vector<apitypes::Instance> out;
    out.reserve(rows.instances.size());
    for (size_t k = 0; k < rows.instances.size(); ++k) {
        Loaded l;
        l.rec = std::move(rows.instances[k]);
        std::vector<const ConfigMap*> cl;
        std::vector<const DeviceMap*> dl;
        for (const auto& p : l.rec.profiles) {
            auto it = profiles.find(p);
            if (it == profiles.end()) continue;  // the foreign key makes this impossible
            cl.push_back(&it->second->config);
            dl.push_back(&it->second->devices);
        }
        cl.push_back(&l.rec.config);
        dl.push_back(&l.rec.devices);
        l.expanded_config = expand_config(cl);
        l.expanded_devices = expand_devices(dl);
        apitypes::Instance i = to_api(l, states[k]);
        if (full) {
            i.state = state_of(l, states[k], false);
            auto sn = rows.snapshots.find(l.rec.id);
            i.snapshots = sn == rows.snapshots.end() ? std::vector<apitypes::InstanceSnapshot>{}
                                                     : snapshots_to_api(l, sn->second);
            i.backups = std::vector<apitypes::InstanceBackup>{};
        }
        out.push_back(std::move(i));
    }
    return out;
}

Result<apitypes::InstanceState> Instances::state(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(json ms, monitor_state(name));
    return state_of(l, ms);
}

apitypes::InstanceState Instances::state_of(const Loaded& l, const json& ms, bool with_disk) const {
    const std::string& name = l.rec.name;
    apitypes::InstanceState s;
    s.status = ms.value("status", "Stopped");
    if (s.status == "Stopping") s.status = "Running";
    s.status_code = status_code_of(s.status);
    if (running_status(ms)) {
        s.pid = ms.value("pid", 0);
        s.processes = ms.value("pids", 0);
        s.cpu.usage = ms.value("cpu_ns", int64_t{0});
        s.memory.usage = ms.value("memory_bytes", int64_t{0});
        if (networks_ && s.pid > 0) s.network = networks_->state_network(static_cast<pid_t>(s.pid));
    } else {
        s.processes = 0;
        s.pid = 0;
    }
    if (!with_disk) return s;
    // The pool from the row already loaded (pool_of would read the row again: one query per listed instance).
    store::PoolDriver* pool = &state_.pool();
    if (!l.rec.storage_pool.empty())
        if (auto p = state_.pool(l.rec.storage_pool); p) pool = *p;
    if (auto u = pool->instance_usage(name); u) s.disk["root"] = apitypes::InstanceStateDisk{static_cast<int64_t>(*u)};
    return s;
}

Result<json> Instances::etag_state(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    return json{{"architecture", l.rec.architecture.empty() ? "x86_64" : l.rec.architecture},
                {"config", l.rec.config},
                {"devices", l.rec.devices},
                {"ephemeral", l.rec.ephemeral},
                {"profiles", l.rec.profiles},
                {"description", l.rec.description}};
}

// ---- create ------------------------------------------------------------------------------

Result<void> Instances::check_create(const apitypes::InstancesPost& req) {
    LXM_TRY_VOID(validate_instance_name(req.name));
    if (!req.type.empty() && req.type != "container")
        return http_error(400, "Instance type \"" + req.type.substr(0, 32) + "\" is not supported (only container)");
    // A copy request repeats the source's config (the lxc client sends its volatile
    // keys too): the server's own keys are dropped, as LXD does, not refused.
    LXM_TRY_VOID(validate_config(req.source.type == "copy" ? without_volatile(req.config) : req.config));
    LXM_TRY_VOID(validate_devices(req.devices));
    const auto& src = req.source;
    if (src.type == "image") {
        if (!src.server.empty())
            return http_error(400, "Images from remote servers (" + src.server.substr(0, 64) +
                                       ") are not supported: use a local image alias or fingerprint");
        LXM_TRY_VOID(images_.resolve(src.alias, src.fingerprint));
    } else if (src.type == "copy") {
        if (src.source.empty()) return http_error(400, "A copy needs a source instance (source.source)");
        if (!src.project.empty() && src.project != kProject)
            return http_error(400, "Projects other than \"default\" are not supported");
        auto [from, snap] = split_copy_source(src.source);
        LXM_TRY(Loaded sl, load(from));
        (void)sl;
        if (!snap.empty()) {
            LXM_TRY(auto sn, snapshot(from, snap));
            (void)sn;
        }
    } else if (src.type != "none") {
        return http_error(400, "Instance source type \"" + src.type.substr(0, 32) +
                                   "\" is not supported (supported: image, copy, none)");
    }
    std::vector<std::string> profiles = req.profiles.value_or(std::vector<std::string>{"default"});
    return state_.store().read([&](store::Transaction& tx) -> Result<void> {
        for (const auto& p : profiles) {
            auto pr = store::get_profile(tx, kProject, p);
            if (!pr && store::is_not_found(pr.error()))
                return http_error(400, "Profile \"" + p.substr(0, 64) + "\" not found");
            if (!pr) return std::unexpected(pr.error());
        }
        auto id = store::instance_id(tx, kProject, req.name);
        if (id) return http_error(409, "Instance \"" + req.name + "\" already exists");
        if (!store::is_not_found(id.error())) return std::unexpected(id.error());
        return {};
    });
}

Result<Instances::NewRow> Instances::insert_new_row(store::InstanceRecord& rec) {
    const std::string name = rec.name;
    bool privileged = false;
    LXM_TRY(int64_t id_base, state_.store().write([&](store::Transaction& tx) -> Result<int64_t> {
        auto id = store::instance_id(tx, kProject, name);
        if (id) return http_error(409, "Instance \"" + name + "\" already exists");
        if (!store::is_not_found(id.error())) return std::unexpected(id.error());
        std::vector<const ConfigMap*> layers;
        std::vector<store::ProfileRecord> profiles;
        for (const auto& p : rec.profiles) {
            auto pr = store::get_profile(tx, kProject, p);
            if (!pr && store::is_not_found(pr.error())) return http_error(400, "Profile \"" + p.substr(0, 64) + "\" not found");
            if (!pr) return std::unexpected(pr.error());
            profiles.push_back(std::move(*pr));
        }
        for (const auto& p : profiles) layers.push_back(&p.config);
        layers.push_back(&rec.config);
        privileged = privileged_of(expand_config(layers));
        LXM_TRY(store::ConfigMap server, store::get_server_config(tx));
        LXM_TRY(IdPool pool, id_pool_from_config(server));
        auto b = store::allocate_idmap_base(tx, pool.base, pool.size, pool.limit());
        if (!b && b.error().code == std::errc::no_space_on_device)
            return base::make_error(std::errc::no_space_on_device,
                                    "No free host id range: all " + std::to_string(pool.ranges) + " ranges of " +
                                        std::to_string(pool.size) + " ids from " + std::to_string(pool.base) +
                                        " are in use (server config " + std::string(kIdmapBaseKey) + ", " +
                                        std::string(kIdmapRangesKey) + ")");
        if (!b) return std::unexpected(b.error());
        rec.idmap_base = *b;
        rec.idmap_size = pool.size;
        LXM_TRY_VOID(store::create_instance(tx, rec));
        return *b;
    }));
    return NewRow{id_base, privileged};
}

Result<void> Instances::create(const apitypes::InstancesPost& req, const Progress& progress) {
    LXM_TRY_VOID(check_create(req));
    const std::string& name = req.name;
    const bool copy = req.source.type == "copy";
    auto [copy_from, copy_snap] = copy ? split_copy_source(req.source.source) : std::pair<std::string, std::string>{};
    if (copy) {
        // Into another pool: a stream of the source's trees (no lock held here: the
        // copier snapshots the source and creates the target through create_from_trees).
        LXM_TRY(Loaded src, load(copy_from));
        LXM_TRY(std::string target_pool, root_pool_for(req, src));
        std::string source_pool = src.rec.storage_pool.empty() ? state_.pool_name() : src.rec.storage_pool;
        if (target_pool != source_pool) {
            if (!cross_pool_copy_)
                return http_error(400, "Copies between storage pools are not supported (source in \"" + source_pool +
                                           "\", target \"" + target_pool + "\")");
            return cross_pool_copy_(req, target_pool, progress);
        }
    }
    auto guard = copy ? locks_.lock({name, copy_from}) : locks_.lock(name);

    std::optional<Loaded> source;
    std::optional<store::SnapshotRecord> source_snap;
    if (copy) {
        LXM_TRY(source, load(copy_from));
        if (source->rec.config.count(std::string(kCreatingKey)) || source->rec.config.count(std::string(kDeletingKey)))
            return http_error(400, "Source instance is being created or deleted");
        if (!copy_snap.empty()) {
            LXM_TRY(auto api_snap, snapshot(copy_from, copy_snap));  // 404 for a missing or half-made one
            (void)api_snap;
            LXM_TRY(source_snap, state_.store().read([&](store::Transaction& tx) {
                return store::get_snapshot(tx, kProject, copy_from, copy_snap);
            }));
        }
    }

    // The pool: the root disk device's (http 400 for a missing pool or a size it cannot limit).
    LXM_TRY(std::string pool_name, root_pool_for(req, source));
    LXM_TRY(store::PoolDriver * pool_ptr, state_.pool(pool_name));
    auto& pool = *pool_ptr;

    std::optional<store::ImageRecord> image;
    if (req.source.type == "image") {
        LXM_TRY(image, images_.resolve(req.source.alias, req.source.fingerprint));
        LXM_TRY_VOID(images_.ensure_in_pool(*image, progress, &pool));
    }

    store::InstanceRecord rec;
    rec.project = kProject;
    rec.name = name;
    rec.type = "container";
    rec.architecture = image ? image->architecture : "x86_64";
    rec.description = req.description;
    rec.ephemeral = req.ephemeral;
    rec.created_at = now_ns();
    rec.image_fingerprint = image ? image->fingerprint : "";
    rec.storage_pool = pool_name;
    rec.config = copy ? without_volatile(req.config) : req.config;
    rec.devices = req.devices;
    rec.profiles = req.profiles.value_or(std::vector<std::string>{"default"});
    if (image) {
        // As LXD does: the image's properties become image.* keys (user keys win).
        for (const auto& [k, v] : image->properties)
            if (k != "recipe") rec.config.emplace("image." + k, v);
        rec.config["volatile.base_image"] = image->fingerprint;
    }
    if (source) {
        // As LXD: the source's config and devices under the request's own, its profiles unless given.
        rec.architecture = source->rec.architecture;
        rec.image_fingerprint = source->rec.image_fingerprint;
        const ConfigMap& scfg = source_snap ? source_snap->config : source->rec.config;
        const DeviceMap& sdev = source_snap ? source_snap->devices : source->rec.devices;
        for (const auto& [k, v] : scfg)
            if (kept_when_copying(k)) rec.config.emplace(k, v);
        for (const auto& [k, v] : sdev) rec.devices.emplace(k, v);
        if (!req.profiles) rec.profiles = source->rec.profiles;
        if (req.description.empty()) rec.description = source->rec.description;
        rec.ephemeral = req.ephemeral;
    }
    rec.config[std::string(kCreatingKey)] = "true";

    base::Reverter rev;
    LXM_TRY(NewRow row, insert_new_row(rec));
    const int64_t id_base = row.id_base;
    const bool privileged = row.privileged;
    rev.add([this, name] {
        (void)state_.store().transaction(
            [&](store::Transaction& tx) { return store::delete_instance(tx, kProject, name); });
    });

    uid_t owner = privileged ? 0 : static_cast<uid_t>(id_base);
    if (source) {
        // A running source is frozen while its tree is copied (a consistent copy), thawed whatever happens.
        LXM_TRY(auto mc, monitor(copy_from));
        bool thaw = false;
        if (mc) {
            LXM_TRY(json st, mc->state());
            if (st.value("status", "") == "Running" && copy_snap.empty()) {
                LXM_TRY_VOID(base::wrap(mc->freeze(), "freeze instance " + copy_from));
                thaw = true;
            }
        }
        base::Defer unfreeze([&] {
            if (!thaw) return;
            if (auto r = mc->thaw(); !r) LXM_ERROR("instance {}: thaw after copy: {}", copy_from, r.error().message());
        });
        std::optional<std::string> snap;
        if (!copy_snap.empty()) snap = copy_snap;
        LXM_TRY_VOID(base::wrap(pool.copy_instance(copy_from, snap, name, owner, owner), "copy root volume"));
    } else if (image) {
        LXM_TRY_VOID(base::wrap(pool.create_instance(name, image->fingerprint, owner, owner), "create root volume"));
    } else {
        LXM_TRY_VOID(base::wrap(pool.create_empty_instance(name, owner, owner), "create root volume"));
    }
    rev.add([&pool, name] { (void)pool.delete_instance(name); });
    // A copy takes the source's snapshots along (as LXD) unless instance_only.
    if (source && copy_snap.empty() && !req.source.instance_only && !req.source.container_only)
        LXM_TRY_VOID(copy_snapshots(copy_from, name, owner));
    LXM_TRY(Loaded made, load(name));
    LXM_TRY_VOID(apply_root_quota(name, made.expanded_devices));
    // The image's file templates (hostname, hosts, network config) into the new root.
    LXM_TRY_VOID(base::wrap(init_templates(name, copy ? "copy" : "create", image ? image->fingerprint : "", copy_from),
                            "file templates"));

    // Commit point: the row loses its marker.
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY(auto cur, store::get_instance(tx, kProject, name));
        cur.config.erase(std::string(kCreatingKey));
        return store::update_instance(tx, cur);
    }));
    LXM_TRY_VOID(write_backup(name));
    rev.success();
    emit("instance-created", name, copy ? json{{"source", req.source.source}} : json(nullptr));
    return {};
}

Result<void> Instances::rewrite_backup(const std::string& name) {
    auto guard = locks_.lock(name);
    return write_backup(name);
}

Result<void> Instances::write_backup(const std::string& name) {
    LXM_TRY(store::InstanceBackup b, state_.store().read([&](store::Transaction& tx) {
        return store::collect_instance_backup(tx, kProject, name);
    }));
    return base::wrap(store::write_backup_file(backup_path(name), b), "write backup file");
}

// ---- update, rename, delete -----------------------------------------------------------------

Result<void> Instances::update(const std::string& name, const apitypes::InstancePut& put) {
    if (!put.restore.empty()) return restore_snapshot(name, put.restore);
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(ConfigMap config, merge_user_config(l.rec.config, put.config));
    LXM_TRY_VOID(validate_devices(put.devices));
    store::InstanceRecord rec = l.rec;
    rec.config = config;
    rec.devices = put.devices;
    rec.profiles = put.profiles;
    rec.description = put.description;
    rec.ephemeral = put.ephemeral;
    if (!put.architecture.empty() && put.architecture != (l.rec.architecture.empty() ? "x86_64" : l.rec.architecture))
        return http_error(400, "The architecture of an instance cannot be changed");
    DeviceMap new_devices;
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        std::vector<store::ProfileRecord> profiles;
        for (const auto& p : rec.profiles) {
            auto pr = store::get_profile(tx, kProject, p);
            if (!pr && store::is_not_found(pr.error())) return http_error(400, "Profile \"" + p.substr(0, 64) + "\" not found");
            if (!pr) return std::unexpected(pr.error());
            profiles.push_back(std::move(*pr));
        }
        std::vector<const ConfigMap*> layers;
        for (const auto& p : profiles) layers.push_back(&p.config);
        layers.push_back(&rec.config);
        if (privileged_of(expand_config(layers)) != privileged_of(l.expanded_config))
            return http_error(400, "security.privileged can only be set when the instance is created");
        std::vector<const DeviceMap*> dlayers;
        for (const auto& p : profiles) dlayers.push_back(&p.devices);
        dlayers.push_back(&rec.devices);
        new_devices = expand_devices(dlayers);
        LXM_TRY_VOID(check_root_update(l, new_devices));
        // A running instance's proxies change at once: a listen address another instance
        // holds is refused before anything is written.
        if (networks_ && base::path_exists(state_.paths().monitor_socket(name)))
            LXM_TRY_VOID(networks_->check_proxies(name, new_devices));
        return store::update_instance(tx, rec);
    }));
    if (root_size_changed(l.expanded_devices, new_devices)) LXM_TRY_VOID(apply_root_quota(name, new_devices));
    LXM_TRY_VOID(write_backup(name));
    if (networks_) {
        // Proxy devices of a running instance follow the new configuration at once. When
        // they cannot (a relay's listen address taken by a host process), the old devices
        // come back, as LXD reverts a device that fails to start.
        LXM_TRY(Loaded now, load(name));
        bool running = base::path_exists(state_.paths().monitor_socket(name));
        auto proxies = [](const DeviceMap& devs) {
            DeviceMap out;
            for (const auto& [n, d] : devs)
                if (auto t = d.find("type"); t != d.end() && t->second == "proxy") out[n] = d;
            return out;
        };
        if (auto p = networks_->sync_proxies(name, now.expanded_devices, running); !p) {
            if (!running || proxies(now.expanded_devices) == proxies(l.expanded_devices)) {
                LXM_WARN("instance {}: proxy devices: {}", name, p.error().message());
            } else {
                (void)state_.store().transaction([&](store::Transaction& tx) { return store::update_instance(tx, l.rec); });
                (void)write_backup(name);
                if (auto back = networks_->sync_proxies(name, l.expanded_devices, running); !back)
                    LXM_WARN("instance {}: proxy devices after a refused update: {}", name, back.error().message());
                return std::unexpected(p.error());
            }
        }
    }
    emit("instance-updated", name);
    return {};
}

Result<void> Instances::rename(const std::string& name, const std::string& new_name) {
    LXM_TRY_VOID(validate_instance_name(new_name));
    auto guard = locks_.lock({name, new_name});
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(json ms, monitor_state(name));
    if (running_status(ms)) return http_error(400, "Renaming of running instance not allowed");
    if (auto other = load(new_name); other) return http_error(409, "Instance \"" + new_name + "\" already exists");
    base::Reverter rev;
    auto& pool = pool_of(name);
    LXM_TRY_VOID(pool.rename_instance(name, new_name));
    rev.add([&pool, name, new_name] { (void)pool.rename_instance(new_name, name); });
    LXM_TRY_VOID(state_.store().transaction(
        [&](store::Transaction& tx) { return store::rename_instance(tx, kProject, name, new_name); }));
    rev.success();
    if (networks_) networks_->forget_instance(name);
    for (auto dir : {state_.paths().run_dir(name), state_.paths().log_dir(name)}) {
        std::string to = dir.substr(0, dir.rfind('/') + 1) + new_name;
        if (base::path_exists(dir) && ::rename(dir.c_str(), to.c_str()) != 0)
            LXM_WARN("rename {} to {}: {}", dir, to, std::strerror(errno));
    }
    if (auto r = write_backup(new_name); !r) LXM_WARN("instance {}: {}", new_name, r.error().message());
    if (auto r = apply_instance_templates(new_name, "rename"); !r)
        LXM_WARN("instance {}: file templates at rename: {}", new_name, r.error().message());
    emit("instance-renamed", new_name, json{{"old_name", name}});
    return {};
}

Result<void> Instances::delete_locked(const store::InstanceRecord& rec) {
    const std::string& name = rec.name;
    // Marker first: a kill from here on leaves a row that reconcile finishes deleting.
    if (!rec.config.count(std::string(kDeletingKey))) {
        LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
            LXM_TRY(auto cur, store::get_instance(tx, kProject, name));
            cur.config[std::string(kDeletingKey)] = "true";
            return store::update_instance(tx, cur);
        }));
    }
    ::unlink(backup_path(name).c_str());
    auto& pool = pool_of(name);
    if (pool.has_instance(name)) LXM_TRY_VOID(base::wrap(pool.delete_instance(name), "delete root volume"));
    for (const auto& dir : {state_.paths().run_dir(name), state_.paths().log_dir(name)}) {
        if (auto r = base::remove_tree(dir); !r && base::path_exists(dir))
            LXM_WARN("instance {}: remove {}: {}", name, dir, r.error().message());
    }
    LXM_TRY_VOID(state_.store().transaction(
        [&](store::Transaction& tx) { return store::delete_instance(tx, kProject, name); }));
    return {};
}

Result<void> Instances::remove(const std::string& name) {
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(json ms, monitor_state(name));
    if (running_status(ms)) return http_error(400, "Instance is running");
    LXM_TRY_VOID(delete_locked(l.rec));
    if (networks_) networks_->forget_instance(name);
    emit("instance-deleted", name);
    return {};
}

// ---- state changes ----------------------------------------------------------------------------

Result<void> Instances::start(const std::string& name) {
    auto guard = locks_.lock(name);
    return start_locked(name);
}

Result<void> Instances::start_locked(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    if (l.rec.config.count(std::string(kCreatingKey)) || l.rec.config.count(std::string(kDeletingKey)))
        return http_error(400, "Instance is being created or deleted");
    if (l.rec.config.count(std::string(kRefreshingKey)))  // a refresh whose undo failed: reconcile retries it
        return http_error(400, "Instance has an unfinished migration refresh: restart lxmd to put it back");
    LXM_TRY(json ms, monitor_state(name));
    if (running_status(ms)) return http_error(400, "The instance is already running");
    if (ms.value("status", "") == "Error")
        return http_error(400, "The instance's monitor does not answer: " + ms.value("error", std::string()));
    const ConfigMap& cfg = l.expanded_config;
    LXM_TRY_VOID(base::wrap(apply_instance_templates(name, "start"), "file templates"));

    runtime::Spec spec;
    spec.name = name;
    LXM_TRY(store::InstanceRootfs root, base::wrap(pool_of(name).instance_rootfs(name), "root volume"));
    spec.rootfs = root.rootfs;
    spec.upper_dir = root.upper_dir;
    spec.work_dir = root.work_dir;
    spec.run_dir = state_.paths().run_dir(name);
    spec.log_dir = state_.paths().log_dir(name);
    spec.privileged = privileged_of(cfg);
    if (!spec.privileged) {
        if (!l.rec.idmap_base || !l.rec.idmap_size)
            return base::make_error(std::errc::invalid_argument, "instance " + name + " has no host id range");
        spec.idmap = runtime::make_idmap(static_cast<uint32_t>(*l.rec.idmap_base), static_cast<uint32_t>(*l.rec.idmap_size));
    }
    spec.hostname = name;
    // Stop signal: image.stop_signal (from the image's properties, or set by the user),
    // else the default for the image's init.
    if (auto it = cfg.find("image.stop_signal"); it != cfg.end()) {
        LXM_TRY(spec.stop_signal, base::wrap(parse_signal(it->second), "image.stop_signal"));
    } else if (auto init = cfg.find("image.init"); init != cfg.end()) {
        spec.stop_signal = runtime::default_stop_signal_for_init(init->second);
    }
    for (const auto& [k, v] : cfg)
        if (k.starts_with("environment.")) spec.env.push_back(k.substr(12) + "=" + v);
    LXM_TRY(spec.limits, limits_from_config(cfg));
    // nic devices on managed networks: a veth pair each, the peer moved in by the monitor.
    base::Reverter nic_rev;
    if (networks_) {
        LXM_TRY_VOID(networks_->check_proxies(name, l.expanded_devices));
        LXM_TRY(auto nics, networks_->allocate_nics(name, l.expanded_devices));
        for (const auto& a : nics) spec.net_links.push_back(a.net_link());
        nic_rev.add([this, name, devs = l.expanded_devices] { networks_->release_nics(name, devs); });
    }
    LXM_TRY_VOID(runtime::validate(spec));

    LXM_TRY_VOID(base::mkdir_p(spec.run_dir, 0711));
    ::chmod(spec.run_dir.c_str(), 0711);
    ::unlink((spec.run_dir + "/exit-code").c_str());
    std::string spec_path = state_.paths().spec_file(name);
    LXM_TRY_VOID(base::write_file_atomic(spec_path, json(spec).dump(2), 0600));
    LXM_TRY(runtime::LaunchResult lr, base::wrap(runtime::launch_monitor(state_.monitor_bin(), spec_path),
                                                 "start instance " + name));
    LXM_INFO("instance {} started: init pid {}, monitor pid {}", name, lr.init_pid, lr.monitor_pid);
    nic_rev.success();
    if (networks_)
        if (auto p = networks_->sync_proxies(name, l.expanded_devices, true); !p)
            LXM_WARN("instance {}: proxy devices: {}", name, p.error().message());
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY_VOID(store::set_instance_status_wanted(tx, kProject, name, "running"));
        return store::set_instance_last_used(tx, kProject, name, now_ns());
    }));
    emit("instance-started", name);
    return {};
}

Result<void> Instances::stop(const std::string& name, int timeout_s, bool force) {
    auto guard = locks_.lock(name);
    return stop_locked(name, timeout_s, force);
}

Result<void> Instances::stop_locked(const std::string& name, int timeout_s, bool force) {
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(auto mc, monitor(name));
    if (!mc) return http_error(400, "The instance is already stopped");
    // The monitor cleans up (socket, cgroups) after it replied: hold a pidfd to wait for its exit,
    // so that a start right after this one finds nothing left of the old run.
    base::UniqueFd monitor_pidfd;
    if (auto st = mc->state(); st && st->value("monitor_pid", 0) > 0)
        monitor_pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, st->value("monitor_pid", 0), 0)));
    // Stopping waits as long as the monitor needs (graceful timeout + kill): no receive timeout.
    set_timeouts(mc->fd(), 0);
    int t = timeout_s < 0 ? 600 : timeout_s;
    LXM_TRY(int code, base::wrap(mc->stop(t, force), "stop instance " + name));
    LXM_INFO("instance {} stopped (init exit {})", name, code);
    if (monitor_pidfd) {
        pollfd p{monitor_pidfd.get(), POLLIN, 0};
        while (::poll(&p, 1, 30000) < 0 && errno == EINTR) {
        }
    } else {
        for (int i = 0; i < 100 && base::path_exists(state_.paths().monitor_socket(name)); ++i) ::usleep(10000);
    }
    if (networks_) {
        networks_->release_nics(name, l.expanded_devices);
        if (auto p = networks_->sync_proxies(name, l.expanded_devices, false); !p)
            LXM_WARN("instance {}: proxy devices: {}", name, p.error().message());
    }
    LXM_TRY_VOID(state_.store().transaction(
        [&](store::Transaction& tx) { return store::set_instance_status_wanted(tx, kProject, name, "stopped"); }));
    emit("instance-stopped", name);
    return {};
}

Result<void> Instances::restart(const std::string& name, int timeout_s, bool force) {
    auto guard = locks_.lock(name);
    LXM_TRY(json ms, monitor_state(name));
    if (running_status(ms)) LXM_TRY_VOID(stop_locked(name, timeout_s, force));
    LXM_TRY_VOID(start_locked(name));
    emit("instance-restarted", name);
    return {};
}

Result<void> Instances::freeze(const std::string& name) {
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(auto mc, monitor(name));
    if (!mc) return http_error(400, "The instance isn't running");
    LXM_TRY_VOID(mc->freeze());
    emit("instance-paused", name);
    return {};
}

Result<void> Instances::unfreeze(const std::string& name) {
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(auto mc, monitor(name));
    if (!mc) return http_error(400, "The instance isn't running");
    LXM_TRY_VOID(mc->thaw());
    emit("instance-resumed", name);
    return {};
}

// ---- running instances ------------------------------------------------------------------------

Result<runtime::ExecHandle> Instances::exec(const std::string& name, runtime::ExecRequest req, const int stdio[3]) {
    LXM_TRY(Loaded l, load(name));
    if (req.args.empty()) return http_error(400, "No command given");
    std::vector<std::string> env;
    for (const auto& [k, v] : l.expanded_config)
        if (k.starts_with("environment.")) env.push_back(k.substr(12) + "=" + v);
    env.insert(env.end(), req.env.begin(), req.env.end());  // request's own values last: they win
    req.env = std::move(env);
    LXM_TRY(auto mc, monitor(name));
    if (!mc) return http_error(400, "Instance is not running");
    // No separate state request: the monitor itself refuses unless its container runs.
    auto h = mc->exec(req, stdio);
    if (!h && h.error().context == "container is not running") return http_error(400, "Instance is not running");
    return h;
}

Result<void> Instances::signal_command(const std::string& name, pid_t pid, int sig) {
    LXM_TRY(auto mc, monitor(name));
    if (!mc) return http_error(400, "Instance is not running");
    return mc->signal(pid, sig);
}

Result<base::UniqueFd> Instances::console(const std::string& name, unsigned rows, unsigned cols) {
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(auto mc, monitor(name));
    if (!mc) return http_error(400, "Instance is not running");
    return mc->console(rows ? rows : 24, cols ? cols : 80);
}

Result<std::string> Instances::console_log(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    std::string path = state_.paths().log_dir(name) + "/console.log";
    if (!base::path_exists(path)) return std::string();
    // The tail: at most 1 MiB.
    LXM_TRY(base::UniqueFd fd, base::open_fd(path, O_RDONLY | O_CLOEXEC));
    struct stat st {};
    ::fstat(fd.get(), &st);
    off_t start = st.st_size > (1 << 20) ? st.st_size - (1 << 20) : 0;
    std::string out(static_cast<size_t>(st.st_size - start), '\0');
    ssize_t n = ::pread(fd.get(), out.data(), out.size(), start);
    if (n < 0) return base::errno_error("read " + path);
    out.resize(static_cast<size_t>(n));
    return out;
}

Result<void> Instances::clear_console_log(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    std::string path = state_.paths().log_dir(name) + "/console.log";
    if (base::path_exists(path) && ::truncate(path.c_str(), 0) != 0) return base::errno_error("truncate " + path);
    return {};
}

Result<std::vector<std::string>> Instances::log_files(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    std::vector<std::string> out;
    std::string dir = state_.paths().log_dir(name);
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != ".." && e->d_type == DT_REG) out.push_back(n);
        }
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::string> Instances::log_file(const std::string& name, const std::string& file) {
    LXM_TRY(auto files, log_files(name));
    if (std::find(files.begin(), files.end(), file) == files.end())
        return http_error(404, "Log file \"" + file.substr(0, 64) + "\" not found");
    return base::read_file(state_.paths().log_dir(name) + "/" + file, 64 << 20);
}

Result<InstanceRoot> Instances::open_root(const Loaded& l) {
    InstanceRoot r;
    r.privileged = privileged_of(l.expanded_config);
    r.id_base = static_cast<uint32_t>(l.rec.idmap_base.value_or(0));
    r.id_size = static_cast<uint32_t>(l.rec.idmap_size.value_or(0));
    LXM_TRY(json ms, monitor_state(l.rec.name));
    if (running_status(ms)) {
        int pid = ms.value("pid", 0);
        if (pid <= 0) return base::make_error(std::errc::no_such_process, "instance has no init");
        LXM_TRY(r.root, base::open_fd("/proc/" + std::to_string(pid) + "/root", O_PATH | O_DIRECTORY | O_CLOEXEC));
        // The pid must still be this instance's init (not reused meanwhile).
        LXM_TRY(json again, monitor_state(l.rec.name));
        if (again.value("pid", 0) != pid) return base::make_error(std::errc::no_such_process, "instance init changed");
        return r;
    }
    // Stopped: a detached overlay of the root volume, attached nowhere. The lower
    // layer is idmapped like at start, so owners read and written are the same.
    LXM_TRY(store::InstanceRootfs vol, pool_of(l.rec.name).instance_rootfs(l.rec.name));
    base::UniqueFd lower;
    if (!r.privileged) {
        LXM_TRY(lower, runtime::clone_tree(vol.rootfs, false));
        LXM_TRY(base::UniqueFd userns, runtime::make_userns_fd(runtime::make_idmap(r.id_base, r.id_size)));
        LXM_TRY_VOID(runtime::idmap_mount(lower.get(), userns.get()));
    }
    if (vol.upper_dir.empty()) {
        if (lower) {
            r.mount = std::move(lower);
        } else {
            LXM_TRY(r.mount, runtime::clone_tree(vol.rootfs, false));
        }
    } else {
        int fs = static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC));
        if (fs < 0) return base::errno_error("fsopen overlay");
        base::UniqueFd fsfd(fs);
        std::string lower_path = lower ? base::fd_path(lower.get()) : vol.rootfs;
        auto set = [&](const char* key, const std::string& val) -> Result<void> {
            if (::syscall(SYS_fsconfig, fsfd.get(), FSCONFIG_SET_STRING, key, val.c_str(), 0) != 0)
                return base::errno_error(std::string("overlay option ") + key);
            return {};
        };
        LXM_TRY_VOID(set("lowerdir", lower_path));
        LXM_TRY_VOID(set("upperdir", vol.upper_dir));
        LXM_TRY_VOID(set("workdir", vol.work_dir));
        if (::syscall(SYS_fsconfig, fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
            return base::errno_error("create overlay for " + l.rec.name);
        int m = static_cast<int>(::syscall(SYS_fsmount, fsfd.get(), FSMOUNT_CLOEXEC, 0));
        if (m < 0) return base::errno_error("fsmount overlay");
        r.mount.reset(m);
    }
    int fd = ::openat(r.mount.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return base::errno_error("open instance root");
    r.root.reset(fd);
    return r;
}

Result<void> Instances::with_root(const std::string& name, const std::function<Result<void>(const InstanceRoot&)>& fn) {
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(InstanceRoot root, open_root(l));
    return fn(root);
}

// ---- startup ---------------------------------------------------------------------------------

Result<void> Instances::reconcile() {
    LXM_TRY(auto recs, state_.store().read([](store::Transaction& tx) { return store::list_instances(tx, kProject); }));
    for (const auto& rec : recs) {
        auto guard = locks_.lock(rec.name);
        if (rec.config.count(std::string(kCreatingKey)) || rec.config.count(std::string(kDeletingKey))) {
            bool creating = rec.config.count(std::string(kCreatingKey)) > 0;
            LXM_WARN("instance {}: {} was interrupted; removing what was made", rec.name,
                     creating ? "creation" : "deletion");
            if (auto r = delete_locked(rec); !r)
                LXM_ERROR("instance {}: cleanup failed: {}", rec.name, r.error().message());
            continue;
        }
        if (!pool_of(rec.name).has_instance(rec.name)) {
            LXM_ERROR("instance {}: its root volume is missing from the pool", rec.name);
            continue;
        }
        if (rec.config.count(std::string(kRefreshingKey))) undo_interrupted_refresh(rec);
        reconcile_snapshots(rec.name);
        if (!base::path_exists(backup_path(rec.name)))
            if (auto r = write_backup(rec.name); !r) LXM_WARN("instance {}: {}", rec.name, r.error().message());
        auto ms = monitor_state(rec.name);
        bool running = ms && running_status(*ms);
        if (running) {
            LXM_INFO("instance {}: running (init pid {}), monitor reconnected", rec.name, ms->value("pid", 0));
            if (rec.status_wanted != "running")
                (void)state_.store().transaction([&](store::Transaction& tx) {
                    return store::set_instance_status_wanted(tx, kProject, rec.name, "running");
                });
            continue;
        }
        // A socket left by a monitor that was killed: remove it so the next start is clean.
        if (ms && ms->value("status", "") == "Stopped") ::unlink(state_.paths().monitor_socket(rec.name).c_str());
    }
    expire_snapshots();  // those that expired while lxmd was down
    return {};
}

// A migration refresh (lxm/core/migration_refresh.cpp) was killed while it rewrote this stopped
// instance: its volume comes back from the pool snapshot taken before the first change, the
// snapshots it added (rows still marked creating) go through reconcile_snapshots, then the
// marker and the safety snapshot go. A restore that fails keeps the marker: the next start tries again.
void Instances::undo_interrupted_refresh(const store::InstanceRecord& rec) {
    const std::string& name = rec.name;
    const std::string safety(kRefreshSafetySnapshot);
    auto& pool = pool_of(name);
    auto snaps = pool.list_snapshots(name);
    bool have_safety = std::find(snaps.begin(), snaps.end(), safety) != snaps.end();
    LXM_WARN("instance {}: a migration refresh was interrupted; putting the instance back as it was before it", name);
    if (have_safety) {
        if (auto r = pool.restore_snapshot(name, safety); !r) {
            LXM_ERROR("instance {}: restoring its volume from the snapshot \"{}\": {} (tried again at the next start)",
                      name, safety, r.error().message());
            return;
        }
        LXM_INFO("instance {}: volume restored from the snapshot taken before the refresh", name);
    } else {
        LXM_INFO("instance {}: the refresh had not changed the volume yet", name);
    }
    reconcile_snapshots(name);  // the refresh's own snapshots: rows still marked creating
    auto cleared = state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY(auto cur, store::get_instance(tx, kProject, name));
        cur.config.erase(std::string(kRefreshingKey));
        return store::update_instance(tx, cur);
    });
    if (!cleared) {
        LXM_ERROR("instance {}: clearing the refresh marker: {}", name, cleared.error().message());
        return;
    }
    if (have_safety)
        if (auto r = pool.delete_snapshot(name, safety); !r)
            LXM_WARN("instance {}: dropping the snapshot \"{}\": {}", name, safety, r.error().message());
    LXM_INFO("instance {}: the interrupted refresh was undone", name);
}

void Instances::autostart() {
    auto recs = state_.store().read([](store::Transaction& tx) { return store::list_instances(tx, kProject); });
    if (!recs) {
        LXM_ERROR("autostart: {}", recs.error().message());
        return;
    }
    std::vector<std::string> to_start;
    for (const auto& rec : *recs) {
        if (rec.config.count(std::string(kCreatingKey)) || rec.config.count(std::string(kDeletingKey))) continue;
        auto it = rec.config.find("boot.autostart");
        bool want = it != rec.config.end() ? parse_bool(it->second).value_or(false) : rec.status_wanted == "running";
        if (!want) continue;
        auto ms = monitor_state(rec.name);
        if (ms && running_status(*ms)) continue;
        to_start.push_back(rec.name);
    }
    for (const auto& n : to_start) {
        LXM_INFO("instance {}: autostart", n);
        if (auto r = start(n); !r) LXM_ERROR("instance {}: autostart failed: {}", n, r.error().message());
    }
}

Result<store::RecoverReport> Instances::recover(bool dry_run) {
    std::vector<std::string> paths;
    for (const auto& pool_name : state_.pool_names()) {  // every pool's instance dirs
        auto pool = state_.pool(pool_name);
        if (!pool) continue;
        std::string dir = (*pool)->path() + "/containers";
        DIR* d = ::opendir(dir.c_str());
        if (!d) continue;
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n == "." || n == "..") continue;
            std::string p = (*pool)->instance_dir(n) + "/" + std::string(store::kBackupFileName);
            if (base::path_exists(p)) paths.push_back(p);
        }
        ::closedir(d);
    }
    std::sort(paths.begin(), paths.end());
    LXM_TRY(store::RecoverReport rep, store::recover_instances(state_.store(), paths, dry_run));
    for (const auto& r : rep.recovered) LXM_INFO("recovered instance {}", r.name);
    for (const auto& [p, e] : rep.failed) LXM_WARN("recover {}: {}", p, e.message());
    return rep;
}

}  // namespace lxm::core
