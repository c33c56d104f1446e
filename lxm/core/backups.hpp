// Backups of instances (LXD's /1.0/instances/<n>/backups) and their import.
//
// A backup costs what a snapshot of the pool costs when it is made: it records
// an internal pool snapshot of the instance ("backup <name>": a name no user
// snapshot can have, since user names hold no spaces) and the list of user
// snapshots it includes. Its tarball is never stored: GET .../export builds it
// on the fly from those snapshots and streams it (one copy of the data, on the
// wire). The record is a small JSON file under the instance dir (backups/<name>.json),
// so it follows the instance through rename and disappears with it. Deleting a
// backup, or its expiry (checked whenever backups are listed, made or exported),
// removes the internal snapshot. User snapshots deleted after the backup was made
// are left out of its export (noted in the log).
//
// Tarball layout (LXD's, non-optimized): backup/index.yaml (name, backend, pool,
// snapshots, type, config: {container, snapshots, pool, volume}), then
// backup/snapshots/<s>/rootfs/... oldest first, then backup/container/rootfs/...
// with the instance's kept templates (backup/container/metadata.yaml, templates/).
// Owners are written as the container sees them.
//
// Import (POST /1.0/instances with an octet-stream body): the upload is unpacked while it
// arrives, under the target pool's tmp/ (StreamedImport; hostile-tarball safe:
// store/archive_unpack), never stored whole; then Instances::create_from_trees moves the
// trees into place and commits the row last. A truncated, corrupt or cut upload fails
// before anything is created and leaves nothing behind (tmp/ is also emptied when the
// pool is opened).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/core/backup_tar.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/images.hpp"
#include "lxm/core/instances.hpp"
#include "store/archive_unpack.hpp"

namespace lxm::core {

struct BackupRecord {
    std::string name;
    int64_t created_at = 0;              // unix ns
    std::optional<int64_t> expires_at{};  // unix ns; nullopt = never
    bool instance_only = false;
    bool optimized_storage = false;
    std::string compression = "gzip";
    std::vector<std::string> snapshots{};  // user snapshots included, oldest first
    std::string pool_snapshot{};           // the internal pool snapshot
};

struct BackupCreate {
    std::string name{};  // "" = next free backupN
    std::optional<int64_t> expires_at{};
    bool instance_only = false;
    bool optimized_storage = false;
    std::string compression{};  // "" = gzip (LXD's default)
};


// An import whose tarball is unpacked while it is uploaded (no copy of it on disk): the
// HTTP layer writes the body into the pipe writer() returns, as it arrives, and closes it;
// a thread unpacks from the pipe under the pool's tmp/ (the same hostile-tarball-safe
// unpacker). finish() waits for it. Destroying it (at any point) joins the thread and
// removes what was unpacked, so a cut or refused upload leaves nothing.
class StreamedImport {
public:
    // pool_name: where the trees go (X-LXD-pool, else the default pool).
    static base::Result<std::shared_ptr<StreamedImport>> start(store::PoolDriver& pool, std::string pool_name);
    ~StreamedImport();
    StreamedImport(const StreamedImport&) = delete;
    StreamedImport& operator=(const StreamedImport&) = delete;

    // The write end of the pipe (once; the caller closes it at the end of the body).
    base::UniqueFd writer() { return std::move(writer_); }
    // Waits for the unpacker. body_complete: the HTTP layer read the whole body (a body cut at
    // a tar block boundary can look like a complete archive). 400 for a truncated or corrupt upload.
    base::Result<void> finish(bool body_complete);
    const std::string& dir() const { return dir_; }
    const std::string& pool() const { return pool_; }
    // Remove what was unpacked now (after finish(); also done on destruction).
    void discard();

private:
    StreamedImport() = default;
    std::string dir_, pool_;
    base::UniqueFd writer_, reader_;
    std::thread thread_;
    base::Result<store::UnpackReport> unpacked_ = base::make_error(std::errc::io_error, "not unpacked");
};

class Backups {
public:
    Backups(DaemonState& state, Instances& instances);

    base::Result<std::vector<BackupRecord>> list(const std::string& instance);
    base::Result<BackupRecord> get(const std::string& instance, const std::string& backup);
    // Checks (404 instance, 400 name/compression, 409 taken) and fills in the name.
    base::Result<BackupCreate> check_create(const std::string& instance, BackupCreate req);
    base::Result<void> create(const std::string& instance, const BackupCreate& req);
    base::Result<void> remove(const std::string& instance, const std::string& backup);
    base::Result<void> rename(const std::string& instance, const std::string& from, const std::string& to);
    // The backup's tarball, written into fd as it is built.
    base::Result<void> write_tarball(const std::string& instance, const std::string& backup, int fd);
    // Delete expired backups (failures are logged).
    void expire();
    // At startup, after Instances::reconcile (no operation survives a restart): drop the pool
    // snapshots lxm takes for the length of one operation and that a killed lxmd left behind
    // ("migration <op>" of a migration source, "copy <n>" of a copy between pools, "backup <b>"
    // whose record was never written, a "migration refresh" whose refresh marker is gone).
    // Every such name holds a space, which user snapshot names cannot. Failures are logged.
    void drop_stale_pool_snapshots();

    // Import of an upload unpacked by a StreamedImport (after its finish()): the instance name
    // it will create (the override or the backup's; 400 for an upload that is not a backup,
    // 409 for a taken name), then the import itself (returns the name).
    base::Result<std::string> streamed_import_name(const StreamedImport& s, const std::string& name);
    // pool: X-LXD-pool ("": the root disk's pool from the backup's devices and profiles; the trees
    // move there, copied if that is another filesystem than the one they were unpacked on).
    base::Result<std::string> import_streamed(const StreamedImport& s, const std::string& name, const std::string& pool,
                                              const Progress& progress);

    // ---- shared with migration (lxm/core/migration.cpp) ----
    // An internal pool snapshot of the instance (a running one is frozen around it).
    base::Result<void> take_pool_snapshot(const std::string& instance, const std::string& pool_snapshot);
    base::Result<void> drop_pool_snapshot(const std::string& instance, const std::string& pool_snapshot);
    // The tarball of the instance: its user snapshots `snapshots` (names, oldest first) and the
    // root as held by the pool snapshot root_pool_snapshot, in the backup layout, into tar.
    base::Result<void> write_instance_tar(const std::string& instance, const std::string& root_pool_snapshot,
                                          const std::vector<std::string>& snapshots, TarStream& tar);
    // Create an instance from a backup layout unpacked at dir (dir/index.yaml, dir/container/rootfs,
    // dir/snapshots/<s>/rootfs; in pool's tmp/). name/pool: "" = from the backup.
    // adjust (optional): changes what is made from the backup before it is made (a copy's overrides).
    using ImportAdjust = std::function<void(Instances::TreeImport&)>;
    base::Result<std::string> import_unpacked(const std::string& dir, const std::string& name,
                                              const std::string& pool, const Progress& progress,
                                              const ImportAdjust& adjust = {});

    // ---- copies between pools (lxm/core/backup_pool_copy.cpp; installed into Instances) ----
    // The source (req.source.source: "c1" or "c1/snap") as a tarball in the backup layout,
    // written by one thread into a pipe and unpacked by this one under the target pool's
    // tmp/, then made with create_from_trees: all-or-nothing, snapshots carried unless
    // instance_only (or the source is a snapshot). A running source is frozen only while
    // a temporary pool snapshot of it is taken. The request's config, devices, profiles,
    // description and ephemeral apply as for a copy within a pool.
    base::Result<void> copy_between_pools(const apitypes::InstancesPost& req, const std::string& target_pool,
                                          const Progress& progress);

private:
    struct Where {
        store::InstanceRecord rec;
        store::PoolDriver* pool = nullptr;
        std::string dir;  // <instance dir>/backups
    };
    base::Result<Where> where(const std::string& instance);
    base::Result<void> remove_locked(const Where& w, const BackupRecord& b);
    void expire_instance(const Where& w);

    DaemonState& state_;
    Instances& instances_;
    std::mutex mu_;  // backup records (create/rename/delete/expiry)
};

}  // namespace lxm::core
