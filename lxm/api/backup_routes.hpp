// /1.0/instances/<n>/backups (list with recursion, create, get, rename, delete,
// export as a streamed tarball) and the import of a backup: POST /1.0/instances
// with an application/octet-stream body (X-LXD-name, X-LXD-pool), as `lxc import`
// sends it — thin handlers over core::Backups.
//
//   core::Backups backups(state, instances);
//   register_backup_routes(api, backups, state);  // after register_daemon_routes: wraps POST /1.0/instances
#pragma once

#include "lxm/api/api.hpp"
#include "lxm/core/backups.hpp"
#include "lxm/core/daemon_state.hpp"

namespace lxm::api {

// backups and state must outlive the api. Also advertises the backup extensions.
void register_backup_routes(Api& api, core::Backups& backups, core::DaemonState& state);

}  // namespace lxm::api
