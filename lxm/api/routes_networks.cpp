// /1.0/networks routes (see network_routes.hpp).
#include <nlohmann/json.hpp>

#include "lxm/api/config_resource_routes.hpp"
#include "lxm/api/daemon_routes.hpp"
#include "lxm/api/network_routes.hpp"
#include "lxm/apitypes/http_error.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

void register_network_routes(Api& api, core::Networks& nets) {
    api.server_info().extensions.push_back("network");
    api.server_info().extensions.push_back("network_leases");
    api.server_info().extensions.push_back("network_state");

    add_config_resource_routes(api, "/1.0/networks", nets);
    add_json_route(api, "POST", "/1.0/networks/{name}", [&nets](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        if (!body->is_object() || !(*body)["name"].is_string()) return http_error(400, "No name provided");
        std::string to = (*body)["name"].get<std::string>();
        LXM_TRY_VOID(nets.rename(req.param("name"), to));
        return Response::created("/1.0/networks/" + url_encode(to));
    });
    add_json_route(api, "GET", "/1.0/networks/{name}/leases", [&nets](const Request& req) -> Result<Response> {
        LXM_TRY(json out, nets.leases(req.param("name")));
        return Response::sync(out);
    });
    add_json_route(api, "GET", "/1.0/networks/{name}/state", [&nets](const Request& req) -> Result<Response> {
        LXM_TRY(json out, nets.state(req.param("name")));
        return Response::sync(out);
    });
}

}  // namespace lxm::api
