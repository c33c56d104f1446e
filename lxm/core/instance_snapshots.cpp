// Instance snapshots: rows in store/snapshots, trees in the pool (inside the
// instance's directory, so they go with it on rename and delete).
//
// All-or-nothing: a snapshot row is written first with the creating marker in
// its config, then the pool snapshot is taken, then the marker is dropped; a
// delete marks the row, removes the pool snapshot, then the row. reconcile()
// (through reconcile_snapshots) removes whatever carries a marker after a kill.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/instances.hpp"
#include "lxm/core/names.hpp"
#include "lxm/core/snapshot_schedule.hpp"
#include "lxm/core/unix_time.hpp"
#include "store/errors.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;
using nlohmann::json;

namespace {

constexpr const char* kProject = "default";

bool running_status(const json& st) {
    std::string s = st.value("status", "Stopped");
    return s == "Running" || s == "Frozen" || s == "Stopping";
}

bool half_made(const store::SnapshotRecord& s) {
    return s.config.count(std::string(kCreatingKey)) || s.config.count(std::string(kDeletingKey));
}

base::Unexpected snapshot_not_found(const std::string& name, const std::string& snap) {
    return http_error(404, "Snapshot \"" + name.substr(0, 64) + "/" + snap.substr(0, 64) + "\" not found");
}

// The snapshot part of "snap" or "name/snap" (which must name this instance).
Result<std::string> snapshot_part(const std::string& name, const std::string& ref) {
    auto slash = ref.find('/');
    if (slash == std::string::npos) return ref;
    if (ref.substr(0, slash) != name)
        return http_error(400, "Snapshot \"" + ref.substr(0, 128) + "\" belongs to another instance");
    return ref.substr(slash + 1);
}

}  // namespace

apitypes::InstanceSnapshot Instances::snapshot_to_api(const Loaded& l, const store::SnapshotRecord& s) const {
    apitypes::InstanceSnapshot a;
    a.name = s.name;
    a.architecture = l.rec.architecture.empty() ? "x86_64" : l.rec.architecture;
    a.config = s.config;
    a.devices = s.devices;
    a.expanded_config = l.expanded_config;
    a.expanded_devices = l.expanded_devices;
    for (const auto& [k, v] : s.config) a.expanded_config[k] = v;
    for (const auto& [k, v] : s.devices) a.expanded_devices[k] = v;
    a.created_at = api_time(s.created_at);
    a.last_used_at = apitypes::zero_time();
    a.expires_at = s.expires_at ? api_time(*s.expires_at) : apitypes::zero_time();
    a.stateful = s.stateful;
    a.ephemeral = l.rec.ephemeral;
    a.profiles = l.rec.profiles;
    return a;
}

std::vector<apitypes::InstanceSnapshot> Instances::snapshots_to_api(const Loaded& l,
                                                                   const std::vector<store::SnapshotRecord>& recs) const {
    std::vector<apitypes::InstanceSnapshot> out;
    for (const auto& s : recs)
        if (!half_made(s)) out.push_back(snapshot_to_api(l, s));
    return out;
}

Result<std::vector<apitypes::InstanceSnapshot>> Instances::snapshots(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(auto recs, state_.store().read([&](store::Transaction& tx) {
        return store::list_snapshots(tx, kProject, name);
    }));
    return snapshots_to_api(l, recs);
}

Result<apitypes::InstanceSnapshot> Instances::snapshot(const std::string& name, const std::string& snap) {
    LXM_TRY(Loaded l, load(name));
    auto s = state_.store().read([&](store::Transaction& tx) { return store::get_snapshot(tx, kProject, name, snap); });
    if (!s && store::is_not_found(s.error())) return snapshot_not_found(name, snap);
    if (!s) return std::unexpected(s.error());
    if (half_made(*s)) return snapshot_not_found(name, snap);
    return snapshot_to_api(l, *s);
}

Result<std::string> Instances::check_snapshot_create(const std::string& name, const std::string& snap) {
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(auto recs, state_.store().read([&](store::Transaction& tx) {
        return store::list_snapshots(tx, kProject, name);
    }));
    if (!snap.empty()) {
        LXM_TRY_VOID(validate_object_name("Snapshot", snap));
        for (const auto& s : recs)
            if (s.name == snap) return http_error(409, "Snapshot \"" + snap + "\" already exists");
        return snap;
    }
    // snapshots.pattern (default "snap%d": one more than the highest snapN).
    std::vector<std::string> taken;
    for (const auto& s : recs) taken.push_back(s.name);
    auto pat = l.expanded_config.find("snapshots.pattern");
    auto n = snapshot_name_from_pattern(pat == l.expanded_config.end() ? "" : pat->second, taken);
    if (!n && n.error().code == std::errc::file_exists) return http_error(409, n.error().message());
    if (!n) return http_error(400, n.error().message());
    return *n;
}

Result<std::optional<int64_t>> Instances::default_snapshot_expiry(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    auto it = l.expanded_config.find("snapshots.expiry");
    if (it == l.expanded_config.end()) return std::optional<int64_t>();
    auto t = expiry_time(std::chrono::system_clock::now(), it->second);
    if (!t) return http_error(400, t.error().message());
    if (!*t) return std::optional<int64_t>();
    return std::optional<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>((*t)->time_since_epoch()).count());
}

Result<void> Instances::create_snapshot(const std::string& name, const std::string& snap_req,
                                        std::optional<int64_t> expires_at) {
    auto guard = locks_.lock(name);
    LXM_TRY(std::string snap, check_snapshot_create(name, snap_req));
    LXM_TRY(Loaded l, load(name));
    if (l.rec.config.count(std::string(kCreatingKey)) || l.rec.config.count(std::string(kDeletingKey)))
        return http_error(400, "Instance is being created or deleted");

    store::SnapshotRecord rec;
    rec.name = snap;
    rec.created_at = now_ns();
    rec.expires_at = expires_at;
    rec.config = l.rec.config;
    rec.devices = l.rec.devices;
    rec.config[std::string(kCreatingKey)] = "true";

    base::Reverter rev;
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY(auto id, store::create_snapshot(tx, kProject, name, rec));
        (void)id;
        return {};
    }));
    rev.add([this, name, snap] {
        (void)state_.store().transaction(
            [&](store::Transaction& tx) { return store::delete_snapshot(tx, kProject, name, snap); });
    });

    {
        // A running instance is frozen while the pool takes its snapshot (consistent
        // tree); it is thawed whatever happens, unless it was frozen already.
        LXM_TRY(auto mc, monitor(name));
        bool thaw = false;
        if (mc) {
            LXM_TRY(json st, mc->state());
            if (st.value("status", "") == "Running") {
                LXM_TRY_VOID(base::wrap(mc->freeze(), "freeze instance " + name));
                thaw = true;
            }
        }
        base::Defer unfreeze([&] {
            if (!thaw) return;
            if (auto r = mc->thaw(); !r) LXM_ERROR("instance {}: thaw after snapshot: {}", name, r.error().message());
        });
        LXM_TRY_VOID(base::wrap(pool_of(name).create_snapshot(name, snap), "create snapshot " + name + "/" + snap));
    }
    rev.add([this, name, snap] { (void)pool_of(name).delete_snapshot(name, snap); });

    // Commit point: the row loses its marker.
    rec.config.erase(std::string(kCreatingKey));
    LXM_TRY_VOID(state_.store().transaction(
        [&](store::Transaction& tx) { return store::update_snapshot(tx, kProject, name, rec); }));
    rev.success();
    if (auto r = write_backup(name); !r) LXM_WARN("instance {}: {}", name, r.error().message());
    emit("instance-snapshot-created", name + "/" + snap);
    return {};
}

Result<void> Instances::delete_snapshot_locked(const std::string& name, const std::string& snap) {
    auto s = state_.store().read([&](store::Transaction& tx) { return store::get_snapshot(tx, kProject, name, snap); });
    if (!s && store::is_not_found(s.error())) return snapshot_not_found(name, snap);
    if (!s) return std::unexpected(s.error());
    // Marker first: a kill from here on leaves a row reconcile finishes deleting.
    if (!s->config.count(std::string(kDeletingKey))) {
        s->config[std::string(kDeletingKey)] = "true";
        LXM_TRY_VOID(state_.store().transaction(
            [&](store::Transaction& tx) { return store::update_snapshot(tx, kProject, name, *s); }));
    }
    auto pool_snaps = pool_of(name).list_snapshots(name);
    if (std::find(pool_snaps.begin(), pool_snaps.end(), snap) != pool_snaps.end())
        LXM_TRY_VOID(base::wrap(pool_of(name).delete_snapshot(name, snap), "delete snapshot " + name + "/" + snap));
    return state_.store().transaction(
        [&](store::Transaction& tx) { return store::delete_snapshot(tx, kProject, name, snap); });
}

Result<void> Instances::delete_snapshot(const std::string& name, const std::string& snap) {
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    LXM_TRY_VOID(delete_snapshot_locked(name, snap));
    if (auto r = write_backup(name); !r) LXM_WARN("instance {}: {}", name, r.error().message());
    emit("instance-snapshot-deleted", name + "/" + snap);
    return {};
}

Result<void> Instances::rename_snapshot(const std::string& name, const std::string& from, const std::string& to) {
    LXM_TRY_VOID(validate_object_name("Snapshot", to));
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    LXM_TRY(auto cur, snapshot(name, from));
    (void)cur;
    if (auto other = snapshot(name, to); other) return http_error(409, "Snapshot \"" + to + "\" already exists");
    base::Reverter rev;
    LXM_TRY_VOID(base::wrap(pool_of(name).rename_snapshot(name, from, to), "rename snapshot"));
    rev.add([this, name, from, to] { (void)pool_of(name).rename_snapshot(name, to, from); });
    LXM_TRY_VOID(state_.store().transaction(
        [&](store::Transaction& tx) { return store::rename_snapshot(tx, kProject, name, from, to); }));
    rev.success();
    if (auto r = write_backup(name); !r) LXM_WARN("instance {}: {}", name, r.error().message());
    emit("instance-snapshot-renamed", name + "/" + to, json{{"old_name", from}});
    return {};
}

Result<void> Instances::restore_snapshot(const std::string& name, const std::string& ref) {
    LXM_TRY(std::string snap, snapshot_part(name, ref));
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    auto s = state_.store().read([&](store::Transaction& tx) { return store::get_snapshot(tx, kProject, name, snap); });
    if (!s && store::is_not_found(s.error())) return snapshot_not_found(name, snap);
    if (!s) return std::unexpected(s.error());
    if (half_made(*s)) return snapshot_not_found(name, snap);

    // As LXD: a running instance is stopped, restored and started again.
    LXM_TRY(json ms, monitor_state(name));
    bool was_running = running_status(ms);
    if (was_running) LXM_TRY_VOID(stop_locked(name, 30, false));
    auto restart = [&]() -> Result<void> { return was_running ? start_locked(name) : Result<void>{}; };

    if (auto r = pool_of(name).restore_snapshot(name, snap); !r) {
        if (auto st = restart(); !st) LXM_ERROR("instance {}: start after failed restore: {}", name, st.error().message());
        return base::wrap(std::move(r), "restore snapshot " + name + "/" + snap);
    }
    // The instance's config and devices as they were (its volatile state stays).
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY(auto cur, store::get_instance(tx, kProject, name));
        ConfigMap cfg = s->config;
        for (auto it = cfg.begin(); it != cfg.end();) it = it->first.starts_with("volatile.") ? cfg.erase(it) : std::next(it);
        for (const auto& [k, v] : cur.config)
            if (k.starts_with("volatile.")) cfg[k] = v;
        cur.config = std::move(cfg);
        cur.devices = s->devices;
        return store::update_instance(tx, cur);
    }));
    // The restored tree is new (a new subvolume, a new upper): its limit is set again.
    if (auto nl = load(name); nl)
        if (auto q = apply_root_quota(name, nl->expanded_devices); !q)
            LXM_WARN("instance {}: {}", name, q.error().message());
    if (auto r = write_backup(name); !r) LXM_WARN("instance {}: {}", name, r.error().message());
    emit("instance-restored", name, json{{"snapshot", snap}});
    return restart();
}

void Instances::reconcile_snapshots(const std::string& name) {
    auto recs = state_.store().read([&](store::Transaction& tx) { return store::list_snapshots(tx, kProject, name); });
    if (!recs) {
        LXM_WARN("instance {}: snapshots: {}", name, recs.error().message());
        return;
    }
    for (const auto& s : *recs) {
        if (!half_made(s)) continue;
        LXM_WARN("instance {}: snapshot {} was interrupted; removing it", name, s.name);
        if (auto r = delete_snapshot_locked(name, s.name); !r)
            LXM_ERROR("instance {}: snapshot {} cleanup failed: {}", name, s.name, r.error().message());
    }
}

void Instances::expire_snapshots() {
    auto due = state_.store().read([](store::Transaction& tx) { return store::list_expired_snapshots(tx, now_ns()); });
    if (!due) {
        LXM_WARN("snapshot expiry: {}", due.error().message());
        return;
    }
    for (const auto& e : *due) {
        if (e.project != kProject) continue;
        if (auto r = delete_snapshot(e.instance, e.snapshot); !r)
            LXM_WARN("snapshot {}/{} expiry: {}", e.instance, e.snapshot, r.error().message());
    }
}

}  // namespace lxm::core
