// Migration of instances between two lxm hosts (LXD-API.md §2.6): LXD's choreography
// (a source operation with websocket secrets `control` and `fs`; the target dials them)
// carrying lxm's own stream, not LXD's protobuf + rsync:
//
//   target → control  {"refresh": false, "have": [snapshots it already holds]}
//   source → fs       a tarball (zstd) in the backup layout (lxm/core/backups.hpp):
//                     backup/index.yaml (config, devices, profiles, snapshot list with
//                     their config), the missing snapshots oldest first, then the root
//                     as a pool snapshot taken when the transfer starts (a running
//                     source is frozen for that moment only); then end of stream
//   target → control  {"success": true} once the instance exists (row committed), or
//                     {"success": false, "message": "..."}
//
// Atomicity: the target unpacks under its pool's tmp/ and creates the instance with
// Instances::create_from_trees (row with a creating marker, committed last); the source
// changes nothing but a temporary pool snapshot, dropped whatever happens. A cut
// connection or a killed target fails both sides: the source is as it was, the target
// has nothing (tmp/ is emptied when a pool opens). `move` deletes the source only after
// the target confirmed (the client does it after both operations succeeded).
//
// Live migration needs CRIU; check_live() runs `criu check` and refuses with its output
// when CRIU cannot work on this host (e.g. kernel 6.18 with CRIU 3.17: vDSO layout).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"
#include "lxm/core/backups.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/instances.hpp"

namespace lxm::core {

// The two streams as the API layer provides them (websockets), blocking.
struct MigrationChannels {
    // fs: one binary frame per call; send_data("") ends the stream.
    std::function<base::Result<void>(std::string_view data)> send_data{};
    // fs: the next frame, nullopt at the end of the stream.
    std::function<base::Result<std::optional<std::string>>()> recv_data{};
    std::function<base::Result<void>(const nlohmann::json&)> send_control{};
    std::function<base::Result<nlohmann::json>()> recv_control{};
};

struct MigrationSendOptions {
    bool instance_only = false;
    std::string id;  // operation id (names the temporary pool snapshot)
};

struct MigrationReceiveOptions {
    std::string name;  // the new instance
    std::string pool;  // "" = from the instance's root disk / default
};

class Migration {
public:
    Migration(DaemonState& state, Instances& instances, Backups& backups);

    // 404 for no instance; live: 400 with the reason when CRIU cannot checkpoint here.
    base::Result<void> check_source(const std::string& name, bool live);
    // 400 for a bad name, 409 when the instance exists.
    base::Result<void> check_target(const std::string& name);
    // `criu check` on this host: "" when usable, else its output (the reason).
    static std::string criu_problem();

    base::Result<void> send(const std::string& name, const MigrationSendOptions& opts, const MigrationChannels& ch,
                            const Progress& progress);
    base::Result<void> receive(const MigrationReceiveOptions& opts, const MigrationChannels& ch,
                               const Progress& progress);

private:
    DaemonState& state_;
    Instances& instances_;
    Backups& backups_;
};

}  // namespace lxm::core
