// /1.0/networks routes (see network_routes.hpp).
#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "lxm/api/network_routes.hpp"
#include "lxm/apitypes/http_error.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {
void add(Api& api, std::string_view method, std::string_view pattern, Handler h) {
    Route r;
    r.handler = std::move(h);
    r.blocking = true;
    r.body_limit = kJsonBodyLimit;
    api.router().add(method, pattern, std::move(r));
}
std::string network_url(const std::string& n) { return "/1.0/networks/" + url_encode(n); }
}  // namespace

void register_network_routes(Api& api, core::Networks& nets) {
    api.server_info().extensions.push_back("network");
    api.server_info().extensions.push_back("network_leases");
    api.server_info().extensions.push_back("network_state");

    add(api, "GET", "/1.0/networks", [&nets](const Request& req) -> Result<Response> {
        json out = json::array();
        if (req.recursion() >= 1 || req.filter) {
            LXM_TRY(auto list, nets.list());
            for (auto& j : list) {
                if (req.filter && !req.filter->matches(j)) continue;
                if (req.recursion() >= 1) out.push_back(std::move(j));
                else out.push_back(network_url(j.value("name", "")));
            }
        } else {
            LXM_TRY(auto names, nets.names());
            for (const auto& n : names) out.push_back(network_url(n));
        }
        return Response::sync(out);
    });
    add(api, "POST", "/1.0/networks", [&nets](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        LXM_TRY_VOID(nets.create(*body));
        return Response::created(network_url(body->value("name", "")));
    });
    add(api, "GET", "/1.0/networks/{name}", [&nets](const Request& req) -> Result<Response> {
        LXM_TRY(json j, nets.get(req.param("name")));
        json etag = json{{"description", j["description"]}, {"config", j["config"]}};
        return Response::sync_etag(j, etag_hash(etag));
    });
    add(api, "PUT", "/1.0/networks/{name}", [&nets](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        LXM_TRY(json cur, nets.etag_state(req.param("name")));
        LXM_TRY_VOID(etag_check(req, cur));
        LXM_TRY_VOID(nets.update(req.param("name"), *body));
        return Response::empty();
    });
    add(api, "PATCH", "/1.0/networks/{name}", [&nets](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        if (!body->is_object()) return http_error(400, "The request body must be a JSON object");
        LXM_TRY(json cur, nets.etag_state(req.param("name")));
        LXM_TRY_VOID(etag_check(req, cur));
        json merged = cur;
        for (const auto& [k, v] : body->items()) {
            if (k == "config" && v.is_object()) {
                for (const auto& [ck, cv] : v.items()) merged[k][ck] = cv;
            } else {
                merged[k] = v;
            }
        }
        LXM_TRY_VOID(nets.update(req.param("name"), merged));
        return Response::empty();
    });
    add(api, "DELETE", "/1.0/networks/{name}", [&nets](const Request& req) -> Result<Response> {
        LXM_TRY_VOID(nets.remove(req.param("name")));
        return Response::empty();
    });
    add(api, "GET", "/1.0/networks/{name}/leases", [&nets](const Request& req) -> Result<Response> {
        LXM_TRY(json out, nets.leases(req.param("name")));
        return Response::sync(out);
    });
    add(api, "GET", "/1.0/networks/{name}/state", [&nets](const Request& req) -> Result<Response> {
        LXM_TRY(json out, nets.state(req.param("name")));
        return Response::sync(out);
    });
}

}  // namespace lxm::api
