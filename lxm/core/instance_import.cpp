// Instances::create_from_trees: an instance made from trees that arrived from
// elsewhere (a backup tarball, a migration stream), all-or-nothing like create():
// the row carries the creating marker until the end, every step registers its
// undo, and a kill leaves a marked row that reconcile() removes with its volume.
//
// The pool API has no "adopt this tree" entry, so the trees are moved into an
// empty instance volume: for each snapshot, oldest first, its tree becomes the
// volume's content and the pool takes a snapshot of it; then the instance's own
// tree. The trees come with the owners the container sees (0..65535): the
// overlay driver keeps an instance's upper layer owned by its host id range, so
// there they are shifted; dir and btrfs volumes stay unshifted (the runtime idmaps them).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/image_templates.hpp"
#include "lxm/core/instances.hpp"
#include "lxm/core/names.hpp"
#include "lxm/core/unix_time.hpp"
#include "store/pool_fs.hpp"
#include "store/profiles.hpp"
#include "store/server_config.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;
using nlohmann::json;

namespace {

constexpr const char* kProject = "default";

}  // namespace

Result<std::string> Instances::import_pool_for(const store::InstanceRecord& rec, const std::string& requested) {
    if (!requested.empty()) {
        if (!state_.pool(requested)) return http_error(400, "Storage pool \"" + requested.substr(0, 64) + "\" not found");
        return requested;
    }
    apitypes::InstancesPost req;
    req.name = rec.name;
    req.profiles = rec.profiles;
    req.devices = rec.devices;
    return root_pool_for(req, std::nullopt);
}

Result<void> Instances::create_from_trees(TreeImport spec, const Progress& progress) {
    store::InstanceRecord& rec = spec.rec;
    const std::string name = rec.name;
    LXM_TRY_VOID(validate_instance_name(name));
    if (spec.snapshots.size() != spec.snapshot_trees.size())
        return base::make_error(std::errc::invalid_argument, "one tree per snapshot is needed");
    for (const auto& s : spec.snapshots) LXM_TRY_VOID(validate_object_name("Snapshot", s.name));
    // The source host's volatile state means nothing here (ids, MACs are made again); the base
    // image is kept as information, set after validation as create() does.
    std::optional<std::string> base_image;
    if (auto it = rec.config.find("volatile.base_image"); it != rec.config.end()) base_image = it->second;
    for (auto it = rec.config.begin(); it != rec.config.end();) {
        if (it->first.starts_with("volatile.")) it = rec.config.erase(it);
        else ++it;
    }
    LXM_TRY_VOID(validate_config(rec.config));
    LXM_TRY_VOID(validate_devices(rec.devices));
    auto guard = locks_.lock(name);

    LXM_TRY(std::string pool_name, import_pool_for(rec, spec.pool));
    LXM_TRY(store::PoolDriver * pool_ptr, state_.pool(pool_name));
    auto& pool = *pool_ptr;
    // A requested pool overrides the one the instance's own root disk names (as LXD's X-LXD-pool).
    for (auto& [dn, d] : rec.devices)
        if (d.count("type") && d.at("type") == "disk" && d.count("path") && d.at("path") == "/" && d.count("pool"))
            d["pool"] = pool_name;

    rec.project = kProject;
    rec.type = "container";
    if (rec.architecture.empty()) rec.architecture = "x86_64";
    if (rec.created_at == 0) rec.created_at = now_ns();
    rec.image_fingerprint.clear();  // the volume holds the whole tree, over no image
    rec.storage_pool = pool_name;
    rec.status_wanted = "stopped";
    rec.last_used_at = 0;
    if (base_image) rec.config["volatile.base_image"] = *base_image;
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
    LXM_TRY(store::InstanceRootfs vol, base::wrap(pool.create_empty_instance(name, owner, owner), "create root volume"));
    rev.add([&pool, name] { (void)pool.delete_instance(name); });
    const std::string root = vol.upper_dir.empty() ? vol.rootfs : vol.upper_dir;
    std::optional<uid_t> shift;
    if (!vol.upper_dir.empty() && !privileged) shift = owner;
    const auto range = static_cast<uint32_t>(rec.idmap_size.value_or(65536));

    for (size_t i = 0; i < spec.snapshots.size(); ++i) {
        const auto& s = spec.snapshots[i];
        if (progress) progress({{"progress", "restoring snapshot " + s.name}});
        LXM_TRY_VOID(base::wrap(store::poolfs::move_tree_into(spec.snapshot_trees[i], root, shift, range), "snapshot " + s.name));
        LXM_TRY_VOID(base::wrap(pool.create_snapshot(name, s.name), "snapshot " + s.name));
        LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
            store::SnapshotRecord sr = s;
            sr.id = 0;
            if (sr.created_at == 0) sr.created_at = now_ns();
            for (auto it = sr.config.begin(); it != sr.config.end();) {
                if (it->first.starts_with("volatile.") && it->first != "volatile.base_image") it = sr.config.erase(it);
                else ++it;
            }
            LXM_TRY(int64_t sid, store::create_snapshot(tx, kProject, name, sr));
            (void)sid;
            return {};
        }));
        LXM_TRY_VOID(store::poolfs::clear_dir(root));
    }
    if (progress) progress({{"progress", "restoring the instance"}});
    LXM_TRY_VOID(base::wrap(store::poolfs::move_tree_into(spec.rootfs_tree, root, shift, range), "instance root"));
    if (!spec.templates_dir.empty() && base::path_exists(spec.templates_dir + "/metadata.yaml")) {
        auto set = load_template_set(spec.templates_dir);
        if (!set) return std::unexpected(base::wrap(set.error(), "templates of the instance"));
        LXM_TRY_VOID(base::wrap(save_template_set(pool.instance_dir(name), *set), "keep templates"));
        if (!spec.trigger.empty() && set->has_trigger(spec.trigger)) {
            // As create() for a copy: written now, and again at the first start.
            LXM_TRY(Loaded l, load(name));
            LXM_TRY_VOID(base::wrap(write_templates(l, *set, spec.trigger), "file templates"));
            LXM_TRY_VOID(set_pending_trigger(kProject, name, spec.trigger));
        }
    }
    LXM_TRY(Loaded made, load(name));
    LXM_TRY_VOID(apply_root_quota(name, made.expanded_devices));

    // Commit point: the row loses its marker.
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY(auto cur, store::get_instance(tx, kProject, name));
        cur.config.erase(std::string(kCreatingKey));
        return store::update_instance(tx, cur);
    }));
    LXM_TRY_VOID(write_backup(name));
    rev.success();
    emit("instance-created", name, json{{"source", spec.trigger == "copy" ? "copy" : "import"}});
    return {};
}

}  // namespace lxm::core
