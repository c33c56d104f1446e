// Migration between lxm hosts (lxm/api/routes_migration.cpp): the source side of
// POST /1.0/instances/<n> {migration: true} and the target side of POST /1.0/instances
// {source: {type: migration, mode: pull}}, wrapping the routes registered before.
//
//   core::Migration migration(state, instances, backups);
//   register_migration_routes(api, migration, remote.identity());  // after the instance and backup routes
#pragma once

#include "lxm/api/api.hpp"
#include "lxm/base/x509.hpp"
#include "lxm/core/migration.hpp"

namespace lxm::api {

// migration and identity (lxmd's certificate, presented when dialing a source) must outlive the api.
void register_migration_routes(Api& api, core::Migration& migration, const base::CertKey& identity);

}  // namespace lxm::api
