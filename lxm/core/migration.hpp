// Migration of instances between two lxm hosts (LXD-API.md §2.6): LXD's choreography
// (a source operation with websocket secrets `control` and `fs`; the target dials them)
// carrying lxm's own stream, not LXD's protobuf + rsync:
//
//   target → control  {"refresh": <it has the instance already>, "have": [its snapshots]}
//   source → control  {"snapshots": [all its snapshots: name, created_at, config, ...],
//                      "instance_only": bool}
//   source → fs       a tarball (zstd) in the backup layout (lxm/core/backups.hpp):
//                     backup/index.yaml (config, devices, profiles, snapshot list with
//                     their config), the missing snapshots oldest first, then the root
//                     as a pool snapshot taken when the transfer starts (a running
//                     source is frozen for that moment only); then end of stream
//   target → control  {"success": true} once the instance exists (row committed), or
//                     {"success": false, "message": "..."}
//
// Refresh (`--refresh`, LXD's source.refresh): the target already has the instance (stopped);
// it gets the snapshots it lacks and the current root (lxm/core/migration_refresh.cpp), and
// drops the snapshots the source no longer has. A target without the instance gets a copy.
//
// Atomicity: the target unpacks under its pool's tmp/ and creates the instance with
// Instances::create_from_trees (row with a creating marker, committed last); the source
// changes nothing but a temporary pool snapshot, dropped whatever happens. A cut
// connection or a killed target fails both sides: the source is as it was, the target
// has nothing (tmp/ is emptied when a pool opens). A refresh rewrites the existing target
// in place under a durable marker and a safety snapshot, undone at the next start after a
// kill (lxm/core/migration_refresh.cpp). A killed source leaves its temporary pool snapshot
// "migration <op id>": Backups::drop_stale_pool_snapshots removes it at the next start.
//
// Locking: the source holds the instance's lock (Instances::lock) while the stream reads it,
// the target while a refresh rewrites the volume: start, stop, delete, rename, snapshot and
// restore of that instance wait for the end of that phase, as they wait for each other.
//
// Confirmation: the target sends {"success": true} after its commit; if it cannot, a new copy
// is removed again. If the link is cut after the target sent it but before the source read it,
// the target keeps the (complete) instance and the source's operation fails. The client takes
// the target's operation as authoritative (as lxc does: in pull mode it waits on the target's
// operation only): `lxm copy` succeeds with a warning, and `lxm move` deletes the source only
// once the target's operation succeeded, so a move never loses the instance; a move whose
// target failed keeps the source. No state exists in which neither side has it.
//
// Dead peers: every read and write on the two streams gives up after idle_timeout()
// without progress (a cut link, a peer that hangs): the side that notices fails, drops
// both streams and undoes its part (source: its temporary snapshot; target: tmp/), so the
// other side notices too. Phases with no traffic send keepalives so that they do not look
// dead: the source sends empty binary frames on fs while it snapshots, the target sends
// {"keepalive": true} on control while it creates the instance.
//
// Live migration needs CRIU; check_live() runs `criu check` and refuses with its output
// when CRIU cannot work on this host (e.g. kernel 6.18 with CRIU 3.17: vDSO layout).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"
#include "lxm/core/backups.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/instances.hpp"
#include "store/snapshots.hpp"

namespace lxm::core {

// The two streams as the API layer provides them (websockets), blocking.
struct MigrationChannels {
    // fs: one binary frame per call; send_data("") ends the stream.
    std::function<base::Result<void>(std::string_view data)> send_data{};
    // fs: the next frame, nullopt at the end of the stream.
    std::function<base::Result<std::optional<std::string>>()> recv_data{};
    std::function<base::Result<void>(const nlohmann::json&)> send_control{};
    std::function<base::Result<nlohmann::json>()> recv_control{};
    // A keepalive the peer skips (fs: an empty binary frame from the source; control:
    // keepalive_message() from the target). Best effort, callable from another thread while
    // the caller's own thread does not use that stream.
    std::function<void()> send_keepalive{};
};

struct MigrationSendOptions {
    bool instance_only = false;
    std::string snapshot;  // "": the instance; else that snapshot of it, sent as an instance of its own
    std::string id;  // operation id (names the temporary pool snapshot)
};

struct MigrationReceiveOptions {
    std::string name;  // the new instance
    std::string pool;  // "" = from the instance's root disk / default (check_receive settles it)
    bool refresh = false;  // an existing instance of that name is refreshed
    // The request's writable fields (LXD's createFromMigration): a new instance gets these, not
    // the source's from the stream; nullopt (not in the request) = the stream's. Volatile keys of
    // the request are dropped. Snapshots keep their own config from the stream. A refresh of an
    // existing instance leaves its config alone (lxc PUTs it afterwards).
    std::optional<ConfigMap> config{};
    std::optional<DeviceMap> devices{};
    std::optional<std::vector<std::string>> profiles{};
    std::optional<bool> ephemeral{};
    std::optional<std::string> description{};
};

class Migration {
public:
    Migration(DaemonState& state, Instances& instances, Backups& backups);

    // 404 for no instance; live: 400 with the reason when CRIU cannot checkpoint here.
    base::Result<void> check_source(const std::string& name, bool live);
    // 400 for a bad name, 409 when the instance exists (refresh: 400 when it runs).
    base::Result<void> check_target(const std::string& name, bool refresh = false);
    // The request's instance checked as a create would check it, before anything is transferred
    // (lxm/core/migration_request.cpp): 400 for a bad key or device, an unknown profile or pool,
    // 409 for a taken name; volatile keys dropped; opts.pool settled (the root disk's pool when
    // this host has it, else the profiles', else the default, as LXD's instanceFindStoragePool).
    base::Result<void> check_receive(MigrationReceiveOptions& opts);
    // 404 for no such snapshot (a snapshot sent as a new instance: lxc copy c1/snap h1:c2).
    base::Result<void> check_source_snapshot(const std::string& name, const std::string& snapshot);
    // What the import applies over the stream's index: the request's fields that were given, and
    // the templates' copy trigger.
    static Backups::ImportAdjust receive_adjust(const MigrationReceiveOptions& opts);
    // `criu check` on this host: "" when usable, else its output (the reason).
    static std::string criu_problem();
    // How long a stream may go without progress: LXM_MIGRATION_TIMEOUT (seconds) in lxmd's
    // environment, else 60 s.
    static std::chrono::milliseconds idle_timeout();
    static nlohmann::json keepalive_message() { return {{"keepalive", true}}; }

    base::Result<void> send(const std::string& name, const MigrationSendOptions& opts, const MigrationChannels& ch,
                            const Progress& progress);
    base::Result<void> receive(const MigrationReceiveOptions& opts, const MigrationChannels& ch,
                               const Progress& progress);

private:
    static nlohmann::json snapshot_offer(const std::vector<store::SnapshotRecord>& recs);
    base::Result<void> refresh_existing(const std::string& name, const std::string& dir, const nlohmann::json& offer,
                                        const Progress& progress);

    DaemonState& state_;
    Instances& instances_;
    Backups& backups_;
};

}  // namespace lxm::core
