// The resource routes of lxmd (instances, exec/console, files, profiles,
// images read-only, server config, recovery), thin handlers over lxm/core.
//
//   DaemonRoutes ctx{state, images, instances, profiles};
//   register_daemon_routes(api, ctx);   // also appends the extensions these routes implement
#pragma once

#include "lxm/api/api.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/images.hpp"
#include "lxm/core/instances.hpp"
#include "lxm/core/profiles.hpp"

namespace lxm::api {

struct DaemonRoutes {
    core::DaemonState& state;
    core::Images& images;
    core::Instances& instances;
    core::Profiles& profiles;
};

// Registers every route below and adds its extension names to api.server_info().
// ctx must outlive the api.
void register_daemon_routes(Api& api, DaemonRoutes& ctx);

// Per resource (called by register_daemon_routes).
void register_instance_routes(Api& api, DaemonRoutes& ctx);
void register_exec_routes(Api& api, DaemonRoutes& ctx);     // exec, console
void register_file_routes(Api& api, DaemonRoutes& ctx);     // files, logs
void register_profile_routes(Api& api, DaemonRoutes& ctx);
void register_image_read_routes(Api& api, DaemonRoutes& ctx);  // GET images and aliases
void register_server_config_routes(Api& api, DaemonRoutes& ctx);  // PUT/PATCH /1.0, POST /internal/recover

// Body limit of JSON requests on these routes (file pushes have their own).
inline constexpr size_t kJsonBodyLimit = 1 << 20;
inline constexpr size_t kFileBodyLimit = 256u << 20;

}  // namespace lxm::api
