// Instances: the life cycle of containers, orchestrated over the store (rows),
// the pool (root volumes), the image catalogue and the runtime (one detached
// lxm-monitor per running container, which outlives lxmd).
//
// All-or-nothing: create and delete are built with a Reverter and bracketed by
// marker keys in the row (volatile.lxm.creating / volatile.lxm.deleting), so
// that a kill -9 at any point leaves either a complete instance (row, root
// volume, backup file) or, after reconcile() at the next start, nothing.
//
// Locking: one mutex per instance name (NameLocks); methods that change an
// instance take it, reads do not. Slow methods (create, start, stop, ...) block
// and are meant to run on the blocking executor inside an operation.
//
// Errors: user mistakes are http 400/404/409 (apitypes::http_error); others
// are plain Errors (500 unless the errno table says otherwise).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/apitypes/instance.hpp"
#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/images.hpp"
#include "lxm/core/instance_locks.hpp"
#include "lxm/runtime/monitor_client.hpp"
#include "store/backup_file.hpp"
#include "store/image_metadata.hpp"
#include "store/instances.hpp"
#include "store/snapshots.hpp"

namespace lxm::core {

// action ("instance-started"), instance name, context.
using LifecycleFn = std::function<void(const std::string& action, const std::string& name, const nlohmann::json& ctx)>;

// A root to resolve container paths in (files API): an O_PATH directory fd that
// is "/" of the container, and how host ids map to container ids.
struct InstanceRoot {
    base::UniqueFd root;   // O_PATH|O_DIRECTORY
    base::UniqueFd mount;  // for a stopped instance: the detached mount that backs root
    bool privileged = false;
    uint32_t id_base = 0, id_size = 0;
    // Host id for a container id (identity for privileged instances).
    uint32_t host_uid(uint32_t inside) const { return privileged ? inside : id_base + inside; }
    // Container id for a host id (ids outside the range are shown as they are).
    uint32_t inside_id(uint32_t host) const {
        return (!privileged && host >= id_base && host - id_base < id_size) ? host - id_base : host;
    }
};

class Networks;
struct TemplateSet;

class Instances {
public:
    Instances(DaemonState& state, Images& images);
    // Managed networks for nic devices (issue 5); nullptr: nics are not attached.
    void set_networks(Networks* n) { networks_ = n; }

    void set_lifecycle(LifecycleFn fn) { lifecycle_ = std::move(fn); }

    // ---- reads (no lock) ----
    base::Result<std::vector<std::string>> names();
    // full: with state, snapshots and backups (recursion=2 / container_full).
    base::Result<apitypes::Instance> get(const std::string& name, bool full = false);
    base::Result<std::vector<apitypes::Instance>> list(bool full);
    base::Result<apitypes::InstanceState> state(const std::string& name);
    // The writable part, for ETags (LXD hashes the same fields).
    base::Result<nlohmann::json> etag_state(const std::string& name);

    // ---- changes ----
    // Everything about a create request that can be checked without doing it (http 400/404/409).
    base::Result<void> check_create(const apitypes::InstancesPost& req);
    base::Result<void> create(const apitypes::InstancesPost& req, const Progress& progress);
    base::Result<void> update(const std::string& name, const apitypes::InstancePut& put);
    base::Result<void> rename(const std::string& name, const std::string& new_name);
    base::Result<void> remove(const std::string& name);

    base::Result<void> start(const std::string& name);
    base::Result<void> stop(const std::string& name, int timeout_s, bool force);
    base::Result<void> restart(const std::string& name, int timeout_s, bool force);
    base::Result<void> freeze(const std::string& name);
    base::Result<void> unfreeze(const std::string& name);

    // ---- snapshots (lxm/core/instance_snapshots.cpp) ----
    base::Result<std::vector<apitypes::InstanceSnapshot>> snapshots(const std::string& name);
    base::Result<apitypes::InstanceSnapshot> snapshot(const std::string& name, const std::string& snap);
    // The name a snapshot request will get (given and valid, or the next free snapN);
    // 404 for no instance, 400 bad name, 409 taken.
    base::Result<std::string> check_snapshot_create(const std::string& name, const std::string& snap);
    // expires_at for a snapshot taken now without one: from snapshots.expiry (nullopt = never).
    base::Result<std::optional<int64_t>> default_snapshot_expiry(const std::string& name);
    // Take a snapshot (a running instance is frozen around it, thawed even on failure).
    // expires_at: unix ns, nullopt = never.
    base::Result<void> create_snapshot(const std::string& name, const std::string& snap,
                                       std::optional<int64_t> expires_at);
    base::Result<void> delete_snapshot(const std::string& name, const std::string& snap);
    base::Result<void> rename_snapshot(const std::string& name, const std::string& from, const std::string& to);
    // Restore ("snap" or "name/snap"): a running instance is stopped, restored and started again.
    base::Result<void> restore_snapshot(const std::string& name, const std::string& snap);
    // Delete snapshots whose expires_at has passed (failures are logged).
    void expire_snapshots();

    // ---- running instances ----
    base::Result<runtime::ExecHandle> exec(const std::string& name, runtime::ExecRequest req, const int stdio[3]);
    base::Result<void> signal_command(const std::string& name, pid_t pid, int sig);
    // A stream socket proxied to the console pty.
    base::Result<base::UniqueFd> console(const std::string& name, unsigned rows, unsigned cols);
    base::Result<std::string> console_log(const std::string& name);
    base::Result<void> clear_console_log(const std::string& name);
    // Files under logs/<name>/ (names only) and one of them.
    base::Result<std::vector<std::string>> log_files(const std::string& name);
    base::Result<std::string> log_file(const std::string& name, const std::string& file);
    // Run fn with the container's "/" for the files API (running: through
    // /proc/<init>/root; stopped: a private detached mount of its root volume,
    // never attached anywhere), holding the instance lock.
    base::Result<void> with_root(const std::string& name, const std::function<base::Result<void>(const InstanceRoot&)>& fn);

    // ---- creation from transferred trees (lxm/core/instance_import.cpp: backup import, migration) ----
    struct TreeImport {
        store::InstanceRecord rec;                     // name, config, devices, profiles, ... (ids, pool, markers set here)
        std::vector<store::SnapshotRecord> snapshots;  // oldest first
        std::vector<std::string> snapshot_trees;       // one tree per snapshot
        std::string rootfs_tree;
        std::string templates_dir;                     // "": none; else metadata.yaml + templates/ kept by the instance
        std::string pool;                              // "": the root disk's pool (profiles), else the default
        std::string trigger;                           // "copy": the kept templates' copy trigger applied (as create())
    };
    // All-or-nothing creation of an instance from unpacked trees (owners as the container
    // sees them; in the target pool's tmp/, consumed: moved into place, so on the same
    // filesystem). 400 bad name/profile, 409 taken. A failure or kill leaves no row or volume.
    base::Result<void> create_from_trees(TreeImport spec, const Progress& progress);
    // The pool a TreeImport without a pool goes to (to unpack beside it).
    base::Result<std::string> import_pool_for(const store::InstanceRecord& rec, const std::string& requested);

    // A profile about to get new devices: each instance in used_by is checked as update()
    // checks its own devices (the root disk stays in its pool; a root size its pool can
    // limit, else http 400 naming the instance). Returns those whose root size changes.
    base::Result<std::vector<std::string>> check_profile_devices(const std::string& profile,
                                                                 const DeviceMap& new_devices,
                                                                 const std::vector<std::string>& used_by);
    // Set the root volume's limit from the instance's current expanded root disk (after a profile change).
    base::Result<void> reapply_root_quota(const std::string& name);

    // Copies into another pool than the source's (POST /1.0/instances, source type copy, a root
    // disk on another pool): create() hands them to this function, which lxm/core/backups.cpp
    // installs (the instance's tarball streamed into the target pool, then create_from_trees).
    // Without it such copies are refused (400).
    using CrossPoolCopy = std::function<base::Result<void>(const apitypes::InstancesPost& req,
                                                           const std::string& target_pool, const Progress& progress)>;
    void set_cross_pool_copy(CrossPoolCopy fn) { cross_pool_copy_ = std::move(fn); }
    // Move an instance (stopped) with its snapshots into another pool, optionally renamed
    // (POST /1.0/instances/<n> {pool}): copied under a temporary name, then the source deleted
    // and the copy renamed. A failed copy changes nothing.
    base::Result<void> move_to_pool(const std::string& name, const std::string& pool, const std::string& new_name,
                                    const Progress& progress);

    // ---- image metadata kept by the instance (lxm/core/instance_metadata.cpp) ----
    // metadata.yaml of the instance dir (empty when it has none); set: architecture and
    // creation_date filled in when missing, template rules checked (http 400).
    base::Result<store::ImageMetadata> metadata(const std::string& name);
    base::Result<void> set_metadata(const std::string& name, store::ImageMetadata m);
    // Files under templates/ (plain names only: http 400 otherwise, 404 when missing).
    base::Result<std::vector<std::string>> template_files(const std::string& name);
    base::Result<std::string> template_file(const std::string& name, const std::string& file);
    base::Result<void> put_template_file(const std::string& name, const std::string& file, const std::string& text);
    base::Result<void> delete_template_file(const std::string& name, const std::string& file);

    // Rewrite the instance's backup file (after a change of one of its profiles).
    base::Result<void> rewrite_backup(const std::string& name);

    // The instance's lock, for work done outside this class that must not meet start, stop,
    // delete, rename, snapshot or restore of the same instance (they wait for it): a migration
    // refresh rewriting the volume, a migration source reading it. The holder must not call
    // the methods above for that instance (the lock is not recursive).
    NameLocks::Guard lock(const std::string& name) { return locks_.lock(name); }

    // ---- startup ----
    // Finish or undo half-made instances, put back instances whose migration refresh was
    // interrupted (kRefreshingKey), rewrite missing backup files, set the wanted status
    // from the monitors (a running container stays running).
    base::Result<void> reconcile();
    // Start what should run and does not: boot.autostart=true, or boot.autostart
    // unset and last wanted running (LXD's rule). Failures are logged.
    void autostart();
    // Re-insert instances whose rows are missing from their backup files.
    base::Result<store::RecoverReport> recover(bool dry_run = false);

    // How many monitors the reads asked for their state so far (tests bound it).
    uint64_t monitor_queries() const { return monitor_queries_; }

    struct Loaded {
        store::InstanceRecord rec;
        ConfigMap expanded_config;
        DeviceMap expanded_devices;
    };

private:
    base::Result<Loaded> load(const std::string& name);
    // Insert the row of a new instance (rec, marked creating by the caller): 409 when the
    // name is taken, 400 for an unknown profile; allocates its host id range into rec.
    struct NewRow {
        int64_t id_base = 0;
        bool privileged = false;  // of the expanded config
    };
    base::Result<NewRow> insert_new_row(store::InstanceRecord& rec);
    base::Result<std::optional<runtime::MonitorClient>> monitor(const std::string& name);
    base::Result<nlohmann::json> monitor_state(const std::string& name);
    // The monitor states of many instances (same order): only those with a monitor
    // socket are asked, concurrently; the others are {"status": "Stopped"}.
    std::vector<nlohmann::json> monitor_states(const std::vector<std::string>& names);
    // with_disk: also the root volume's usage (a walk of its tree on overlay and dir pools; the
    // list leaves it out, as LXD's does where the pool cannot tell it cheaply).
    apitypes::InstanceState state_of(const Loaded& inst, const nlohmann::json& monitor_state, bool with_disk = true) const;
    std::vector<apitypes::InstanceSnapshot> snapshots_to_api(const Loaded& inst,
                                                             const std::vector<store::SnapshotRecord>& recs) const;
    // ---- storage (lxm/core/instance_storage.cpp) ----
    // The pool of the instance's root volume (its row's storage_pool; the default pool when unknown).
    store::PoolDriver& pool_of(const std::string& name) const;
    // The pool a new instance goes to: the expanded root disk device's "pool" (profiles,
    // a copy's source, the request); http 400 for a pool that does not exist.
    base::Result<std::string> root_pool_for(const apitypes::InstancesPost& req, const std::optional<Loaded>& source);
    // The root disk's "size": http 400 when it is malformed or the pool cannot limit (config time).
    base::Result<void> check_root_quota(store::PoolDriver& pool, const DeviceMap& expanded_devices);
    // An update's new expanded devices: the root disk stays in its pool, a new size is one the pool can limit.
    base::Result<void> check_root_update(const Loaded& inst, const DeviceMap& new_expanded_devices);
    static bool root_size_changed(const DeviceMap& before, const DeviceMap& after);
    // Set (or lift) the root volume's limit from the root disk's "size".
    base::Result<void> apply_root_quota(const std::string& name, const DeviceMap& expanded_devices);
    // Copy every complete snapshot of `from` into the new instance `to` (pool trees and rows).
    base::Result<void> copy_snapshots(const std::string& from, const std::string& to, uid_t owner);
    base::Result<void> start_locked(const std::string& name);
    base::Result<void> stop_locked(const std::string& name, int timeout_s, bool force);
    base::Result<void> delete_locked(const store::InstanceRecord& rec);
    base::Result<void> delete_snapshot_locked(const std::string& name, const std::string& snap);
    // Finish or undo snapshots left half-made or half-deleted by a killed daemon.
    void reconcile_snapshots(const std::string& name);
    void undo_interrupted_refresh(const store::InstanceRecord& rec);
    base::Result<void> create_copy(const apitypes::InstancesPost& req, const Progress& progress);
    apitypes::InstanceSnapshot snapshot_to_api(const Loaded& inst, const store::SnapshotRecord& s) const;
    base::Result<void> write_backup(const std::string& name);
    std::string backup_path(const std::string& name) const;
    base::Result<InstanceRoot> open_root(const Loaded& inst);
    // ---- file templates of the image (lxm/core/instance_templates.cpp) ----
    // At create/copy: keep the image's (or the copy source's) templates in the new
    // instance's dir and apply those for trigger ("create" / "copy").
    base::Result<void> init_templates(const std::string& name, const std::string& trigger,
                                      const std::string& image_fp, const std::string& copy_from);
    // Apply the kept templates for trigger ("start", "rename"); cheap when none has it.
    // The first start applies the create/copy trigger again first (volatile.apply_template).
    base::Result<void> apply_instance_templates(const std::string& name, const std::string& trigger);
    base::Result<void> write_templates(const Loaded& l, const TemplateSet& set, const std::string& trigger);
    base::Result<void> set_pending_trigger(const std::string& project, const std::string& name, const std::string& trigger);
    apitypes::Instance to_api(const Loaded& inst, const nlohmann::json& monitor_state) const;
    void emit(const std::string& action, const std::string& name, const nlohmann::json& ctx = nullptr) const;

    DaemonState& state_;
    Images& images_;
    NameLocks locks_;
    LifecycleFn lifecycle_;
    Networks* networks_ = nullptr;
    CrossPoolCopy cross_pool_copy_;
    std::atomic<uint64_t> monitor_queries_{0};
};

}  // namespace lxm::core
