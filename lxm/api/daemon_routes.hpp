// The resource routes of lxmd (instances, exec/console, files, profiles,
// images, server config, recovery), thin handlers over lxm/core.
//
//   DaemonRoutes ctx{state, images, instances, profiles};
//   register_daemon_routes(api, ctx);   // also appends the extensions these routes implement
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "lxm/api/api.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/images.hpp"
#include "lxm/core/instances.hpp"
#include "lxm/core/profiles.hpp"

namespace lxm::api {

// Server config keys owned by another part of lxmd (remote access: core.https_address,
// core.trust_password, core.remote_token_expiry). PUT/PATCH /1.0 accepts the keys a hook
// owns and runs prepare (check and normalise, e.g. hash a password) and apply (e.g. re-bind
// a listener) inside the write transaction: an error rolls the change back.
struct ServerConfigHook {
    std::function<bool(std::string_view key)> owns{};
    std::function<base::Result<void>(const store::ConfigMap& cur, store::ConfigMap& next)> prepare{};
    std::function<base::Result<void>(const store::ConfigMap& cur, const store::ConfigMap& next)> apply{};
};

struct DaemonRoutes {
    core::DaemonState& state;
    core::Images& images;
    core::Instances& instances;
    core::Profiles& profiles;
    std::vector<ServerConfigHook> config_hooks{};
};

// Registers every route below and adds its extension names to api.server_info().
// ctx must outlive the api.
void register_daemon_routes(Api& api, DaemonRoutes& ctx);

// Per resource (called by register_daemon_routes).
void register_instance_routes(Api& api, DaemonRoutes& ctx);
void register_exec_routes(Api& api, DaemonRoutes& ctx);     // exec, console
void register_file_routes(Api& api, DaemonRoutes& ctx);     // files, logs
void register_instance_metadata_routes(Api& api, DaemonRoutes& ctx);  // metadata, metadata/templates
void register_profile_routes(Api& api, DaemonRoutes& ctx);
void register_image_routes(Api& api, DaemonRoutes& ctx);  // images, export, upload, publish, aliases
void register_server_config_routes(Api& api, DaemonRoutes& ctx);  // PUT/PATCH /1.0, POST /internal/recover

// Body limit of JSON requests on these routes (file pushes have their own).
inline constexpr size_t kJsonBodyLimit = 1 << 20;
inline constexpr size_t kFileBodyLimit = 256u << 20;

}  // namespace lxm::api
