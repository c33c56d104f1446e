// GET / and GET /1.0.
//
// The API extension list lives here, in one place: transport_extensions() are
// those this layer implements itself; the daemon appends the names its
// resource handlers implement (e.g. "instances" and "container_full" with the
// instance routes) to ServerInfoSource::extensions. Advertising an extension is
// a promise to LXD clients (LXD-API.md §2.7): add a name only with its code.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/apitypes/server.hpp"

namespace lxm::api {

class Router;

// "api_filtering": ?filter= is accepted by the router (empty, or one "<field> eq <value>").
std::vector<std::string> transport_extensions();

struct ServerInfoSource {
    std::vector<std::string> extensions = transport_extensions();
    std::vector<std::string> auth_methods{"tls"};
    // Trusted view only; called per request (cheap or cached by the daemon).
    std::function<apitypes::ServerEnvironment()> environment;
    std::function<nlohmann::json()> config;
};

// Default environment from the host: kernel (uname), architecture, pid, hostname, versions.
apitypes::ServerEnvironment host_environment();

// GET / → ["/1.0"] and GET /1.0 (both allow untrusted; untrusted callers see the reduced view).
// `source` must outlive the router.
void register_server_routes(Router& r, const ServerInfoSource& source);

}  // namespace lxm::api
