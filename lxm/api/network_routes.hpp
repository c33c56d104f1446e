// /1.0/networks: list (recursion, filter), create, get, PUT/PATCH (ETag), delete,
// and /1.0/networks/<name>/leases — thin handlers over core::Networks.
//
//   core::Networks nets(state);
//   register_network_routes(api, nets);   // also advertises "network" and "network_leases"
#pragma once

#include "lxm/api/api.hpp"
#include "lxm/core/networks.hpp"

namespace lxm::api {

// nets must outlive the api.
void register_network_routes(Api& api, core::Networks& nets);

}  // namespace lxm::api
