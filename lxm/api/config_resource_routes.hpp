// The LXD-shaped routes of a named resource that has a description and config
// (networks, storage pools): GET <base> (recursion 0/1, filter), POST <base>,
// GET (with ETag) / PUT / PATCH (config keys merged) / DELETE <base>/{name}.
// Every route runs on the blocking executor with the JSON body limit.
//
// Svc provides names(), list() (JSON objects with "name"), create(json),
// get(name), etag_state(name) (the writable fields), update(name, json) and remove(name),
// each returning base::Result.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lxm/api/api.hpp"
#include "lxm/api/daemon_routes.hpp"
#include "lxm/apitypes/http_error.hpp"

namespace lxm::api {

inline void add_json_route(Api& api, std::string_view method, std::string_view pattern, Handler h) {
    Route r;
    r.handler = std::move(h);
    r.blocking = true;
    r.body_limit = kJsonBodyLimit;
    api.router().add(method, pattern, std::move(r));
}

template <typename Svc>
void add_config_resource_routes(Api& api, const std::string& collection, Svc& svc) {
    using base::Result;
    auto url = [collection](const std::string& n) { return collection + "/" + url_encode(n); };
    const std::string one = collection + "/{name}";
    add_json_route(api, "GET", collection, [&svc, url](const Request& req) -> Result<Response> {
        json out = json::array();
        if (req.recursion() >= 1 || req.filter) {
            LXM_TRY(auto list, svc.list());
            for (auto& j : list) {
                if (req.filter && !req.filter->matches(j)) continue;
                if (req.recursion() >= 1) out.push_back(std::move(j));
                else out.push_back(url(j.value("name", "")));
            }
        } else {
            LXM_TRY(auto names, svc.names());
            for (const auto& n : names) out.push_back(url(n));
        }
        return Response::sync(out);
    });
    add_json_route(api, "POST", collection, [&svc, url](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        LXM_TRY_VOID(svc.create(*body));
        return Response::created(url(body->value("name", "")));
    });
    add_json_route(api, "GET", one, [&svc](const Request& req) -> Result<Response> {
        LXM_TRY(json j, svc.get(req.param("name")));
        json etag = json{{"description", j["description"]}, {"config", j["config"]}};
        return Response::sync_etag(j, etag_hash(etag));
    });
    add_json_route(api, "PUT", one, [&svc](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        LXM_TRY(json cur, svc.etag_state(req.param("name")));
        LXM_TRY_VOID(etag_check(req, cur));
        LXM_TRY_VOID(svc.update(req.param("name"), *body));
        return Response::empty();
    });
    add_json_route(api, "PATCH", one, [&svc](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        if (!body->is_object()) return apitypes::http_error(400, "The request body must be a JSON object");
        LXM_TRY(json cur, svc.etag_state(req.param("name")));
        LXM_TRY_VOID(etag_check(req, cur));
        json merged = cur;
        for (const auto& [k, v] : body->items()) {
            if (k == "config" && v.is_object()) {
                for (const auto& [ck, cv] : v.items()) merged[k][ck] = cv;
            } else {
                merged[k] = v;
            }
        }
        LXM_TRY_VOID(svc.update(req.param("name"), merged));
        return Response::empty();
    });
    add_json_route(api, "DELETE", one, [&svc](const Request& req) -> Result<Response> {
        LXM_TRY_VOID(svc.remove(req.param("name")));
        return Response::empty();
    });
}

}  // namespace lxm::api
