// Migration::refresh_existing: an incremental copy (`--refresh`, LXD's refresh: true) applied
// to an instance the target already has (lxm/core/migration.hpp). The stream held the
// snapshots the target lacked and the source's current root, unpacked at dir in the
// backup layout (dir/snapshots/<s>/rootfs, dir/container/rootfs).
//
// The target instance must be stopped, and its lock (Instances::lock) is held for the whole
// rewrite: a start, stop, delete, rename, snapshot, restore or second refresh of it waits.
// Its volume is changed in place: each new snapshot's tree becomes the volume's content and the
// pool snapshots it (as Instances::create_from_trees does for a new instance), then the received
// root becomes the content. Snapshots the target has and the source no longer has are deleted
// once the rest succeeded (as LXD does). The instance's config is left alone (lxc sends the
// source's config with a PUT afterwards).
//
// All-or-nothing, also across a kill: before the first change the instance row gets the marker
// kRefreshingKey (one transaction), then a pool snapshot "migration refresh" (a name no user
// snapshot can have) keeps the volume as it was; each new snapshot's row is written before its
// pool snapshot, marked creating. The commit is one transaction that drops all these markers.
// A failure undoes it all in place; a killed lxmd leaves the marker, and Instances::reconcile at
// the next start restores the volume from "migration refresh", removes the marked snapshots
// (rows and pool snapshots) and drops the marker and the safety snapshot.
//
// On an overlay pool the instance's layer alone is replaced: an instance built over an image
// there would keep seeing image files the source deleted, so it is refused (400).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/migration.hpp"
#include "lxm/core/names.hpp"
#include "store/pool_fs.hpp"
#include "store/snapshots.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;
using nlohmann::json;

namespace {

constexpr const char* kProject = "default";

int64_t json_ns(const json& j, const char* key) {
    return j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
}

}  // namespace

json Migration::snapshot_offer(const std::vector<store::SnapshotRecord>& recs) {
    json out = json::array();
    for (const auto& s : recs) {
        json j{{"name", s.name},       {"description", s.description}, {"created_at", s.created_at},
               {"stateful", s.stateful}, {"config", s.config},           {"devices", s.devices}};
        if (s.expires_at) j["expires_at"] = *s.expires_at;
        out.push_back(std::move(j));
    }
    return out;
}

Result<void> Migration::refresh_existing(const std::string& name, const std::string& dir, const json& offer,
                                         const Progress& progress) {
    // The instance's lock for the whole rewrite: start, delete, rename, snapshot, restore or
    // another refresh of it wait until the volume is whole again.
    std::optional<NameLocks::Guard> guard(instances_.lock(name));
    LXM_TRY(store::InstanceRecord rec,
            state_.store().read([&](store::Transaction& tx) { return store::get_instance(tx, kProject, name); }));
    if (rec.config.count(std::string(kCreatingKey)) || rec.config.count(std::string(kDeletingKey)) ||
        rec.config.count(std::string(kRefreshingKey)))
        return http_error(400, "Cannot refresh \"" + name + "\": it is being created, deleted or refreshed");
    LXM_TRY(store::PoolDriver * pool, state_.pool(rec.storage_pool));
    LXM_TRY(auto st, instances_.state(name));
    if (st.status != "Stopped")
        return http_error(400, "Cannot refresh \"" + name + "\" while it is " + st.status + ": stop it first");
    LXM_TRY(store::InstanceRootfs vol, pool->instance_rootfs(name));
    const bool overlay = !vol.upper_dir.empty();
    if (overlay && !rec.image_fingerprint.empty())
        return http_error(400, "Cannot refresh \"" + name +
                                   "\": it is built over an image on an overlay pool, whose layer cannot take "
                                   "the source's whole tree; delete it and copy again");
    const std::string root = overlay ? vol.upper_dir : vol.rootfs;
    struct stat rs;
    if (::lstat(root.c_str(), &rs) != 0) return base::errno_error("stat " + root);
    std::optional<uid_t> shift;
    if (overlay && rs.st_uid != 0) shift = rs.st_uid;  // the layer is owned by the instance's host root id
    const auto range = static_cast<uint32_t>(rec.idmap_size.value_or(65536));

    LXM_TRY(auto have, state_.store().read(
                           [&](store::Transaction& tx) { return store::list_snapshots(tx, kProject, name); }));
    auto has = [&](const std::string& s) {
        return std::any_of(have.begin(), have.end(), [&](const auto& h) { return h.name == s; });
    };
    // The snapshots that arrived, in the source's order, with the source's records.
    std::vector<store::SnapshotRecord> incoming;
    std::vector<std::string> source_names;
    const json snaps = offer.is_object() ? offer.value("snapshots", json::array()) : json::array();
    for (const auto& j : snaps) {
        if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) continue;
        store::SnapshotRecord sr;
        sr.name = j["name"].get<std::string>();
        source_names.push_back(sr.name);
        if (has(sr.name) || !base::path_exists(dir + "/snapshots/" + sr.name + "/rootfs")) continue;
        LXM_TRY_VOID(validate_object_name("Snapshot", sr.name));
        sr.description = j.value("description", std::string());
        sr.created_at = json_ns(j, "created_at");
        if (int64_t e = json_ns(j, "expires_at"); e > 0) sr.expires_at = e;
        if (j.contains("config") && j["config"].is_object())
            for (auto& [k, v] : j["config"].items())
                if (v.is_string() && (!k.starts_with("volatile.") || k == "volatile.base_image"))
                    sr.config[k] = v.get<std::string>();
        if (j.contains("devices") && j["devices"].is_object())
            for (auto& [dn, d] : j["devices"].items())
                if (d.is_object())
                    for (auto& [k, v] : d.items())
                        if (v.is_string()) sr.devices[dn][k] = v.get<std::string>();
        incoming.push_back(std::move(sr));
    }
    if (!base::path_exists(dir + "/container/rootfs"))
        return base::make_error(std::errc::io_error, "the migration stream has no instance root");

    // Durable record first: the marker (one transaction) tells the next lxmd, should this one be
    // killed from here on, to put the volume back from the safety snapshot (Instances::reconcile).
    const std::string safety(kRefreshSafetySnapshot);
    auto set_marker = [&](bool on) {
        return state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
            LXM_TRY(auto cur, store::get_instance(tx, kProject, name));
            if (on) cur.config[std::string(kRefreshingKey)] = "true";
            else cur.config.erase(std::string(kRefreshingKey));
            return store::update_instance(tx, cur);
        });
    };
    LXM_TRY_VOID(base::wrap(set_marker(true), "mark the instance as being refreshed"));
    bool have_safety = false;
    std::vector<std::string> made;  // snapshot rows written (marked creating until the commit)
    bool done = false;
    base::Defer undo([&] {
        if (done) return;
        for (auto it = made.rbegin(); it != made.rend(); ++it) {
            if (auto r = pool->delete_snapshot(name, *it); !r)
                LXM_WARN("refresh of {}: drop snapshot {}: {}", name, *it, r.error().message());
            (void)state_.store().transaction(
                [&](store::Transaction& tx) { return store::delete_snapshot(tx, kProject, name, *it); });
        }
        if (have_safety) {
            if (auto r = pool->restore_snapshot(name, safety); !r) {
                // The marker stays: the next start of lxmd tries again.
                LXM_ERROR("refresh of {}: putting its volume back: {}", name, r.error().message());
                return;
            }
            if (auto r = pool->delete_snapshot(name, safety); !r)
                LXM_WARN("refresh of {}: drop {}: {}", name, safety, r.error().message());
        }
        if (auto r = set_marker(false); !r) LXM_WARN("refresh of {}: clear its marker: {}", name, r.error().message());
    });
    if (auto r = pool->delete_snapshot(name, safety); !r)  // a stale one whose drop failed (no marker: not needed)
        return std::unexpected(base::wrap(r.error(), "drop an old \"" + safety + "\" snapshot"));
    LXM_TRY_VOID(base::wrap(pool->create_snapshot(name, safety), "keep the instance's state for the refresh"));
    have_safety = true;
    LXM_INFO("refresh of {}: its state is kept in the pool snapshot \"{}\"; {} snapshots to add", name, safety,
             incoming.size());

    for (auto s : incoming) {
        if (progress) progress({{"progress", "refreshing snapshot " + s.name}});
        LXM_INFO("refresh of {}: adding snapshot {}", name, s.name);
        // Row first, marked creating (as Instances::create_snapshot): a kill leaves a row reconcile removes.
        s.config[std::string(kCreatingKey)] = "true";
        LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
            LXM_TRY(int64_t id, store::create_snapshot(tx, kProject, name, s));
            (void)id;
            return {};
        }));
        made.push_back(s.name);
        LXM_TRY_VOID(store::poolfs::clear_dir(root));
        LXM_TRY_VOID(base::wrap(store::poolfs::move_tree_into(dir + "/snapshots/" + s.name + "/rootfs", root, shift, range),
                                "snapshot " + s.name));
        LXM_TRY_VOID(base::wrap(pool->create_snapshot(name, s.name), "snapshot " + s.name));
    }
    if (progress) progress({{"progress", "refreshing the instance"}});
    LXM_INFO("refresh of {}: replacing the instance's root", name);
    LXM_TRY_VOID(store::poolfs::clear_dir(root));
    LXM_TRY_VOID(base::wrap(store::poolfs::move_tree_into(dir + "/container/rootfs", root, shift, range), "instance root"));

    // Commit point, one transaction: the new snapshots lose their creating marker, the instance its
    // refresh marker.
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        for (const auto& m : made) {
            LXM_TRY(auto sr, store::get_snapshot(tx, kProject, name, m));
            sr.config.erase(std::string(kCreatingKey));
            LXM_TRY_VOID(store::update_snapshot(tx, kProject, name, sr));
        }
        LXM_TRY(auto cur, store::get_instance(tx, kProject, name));
        cur.config.erase(std::string(kRefreshingKey));
        return store::update_instance(tx, cur);
    }));
    done = true;
    LXM_INFO("refresh of {}: committed: {} new snapshots and the root", name, incoming.size());
    if (auto r = pool->delete_snapshot(name, safety); !r)
        LXM_WARN("refresh of {}: drop {}: {} (dropped at the next start)", name, safety, r.error().message());
    guard.reset();

    // Snapshots the source no longer has go too (not for an instance-only copy, which says nothing of them).
    if (!(offer.is_object() && offer.value("instance_only", false)))
        for (const auto& h : have)
            if (std::find(source_names.begin(), source_names.end(), h.name) == source_names.end())
                if (auto r = instances_.delete_snapshot(name, h.name); !r)
                    LXM_WARN("refresh of {}: delete snapshot {} (gone on the source): {}", name, h.name,
                             r.error().message());
    if (auto r = instances_.rewrite_backup(name); !r) LXM_WARN("refresh of {}: {}", name, r.error().message());
    LXM_INFO("refresh of {}: done", name);
    return {};
}

}  // namespace lxm::core
