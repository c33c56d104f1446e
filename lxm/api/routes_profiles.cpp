// /1.0/profiles: list, create, get, update (PUT/PATCH with ETag), rename, delete.
#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/profile.hpp"

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
std::string profile_url(const std::string& n) { return "/1.0/profiles/" + url_encode(n); }
}  // namespace

void register_profile_routes(Api& api, DaemonRoutes& dr) {
    auto& prof = dr.profiles;

    add(api, "GET", "/1.0/profiles", [&prof](const Request& req) -> Result<Response> {
        json out = json::array();
        if (req.recursion() >= 1 || req.filter) {
            LXM_TRY(auto list, prof.list());
            for (const auto& p : list) {
                json j = p;
                if (req.filter && !req.filter->matches(j)) continue;
                if (req.recursion() >= 1) out.push_back(std::move(j));
                else out.push_back(profile_url(p.name));
            }
        } else {
            LXM_TRY(auto names, prof.names());
            for (const auto& n : names) out.push_back(profile_url(n));
        }
        return Response::sync(out);
    });
    add(api, "POST", "/1.0/profiles", [&prof](const Request& req) -> Result<Response> {
        LXM_TRY(auto post, req.body_as<apitypes::ProfilesPost>());
        LXM_TRY_VOID(prof.create(post));
        return Response::created(profile_url(post.name));
    });
    add(api, "GET", "/1.0/profiles/{name}", [&prof](const Request& req) -> Result<Response> {
        LXM_TRY(auto p, prof.get(req.param("name")));
        LXM_TRY(json etag, prof.etag_state(req.param("name")));
        return Response::sync_etag(json(p), etag_hash(etag));
    });
    add(api, "PUT", "/1.0/profiles/{name}", [&prof](const Request& req) -> Result<Response> {
        LXM_TRY(auto put, req.body_as<apitypes::ProfilePut>());
        LXM_TRY(json cur, prof.etag_state(req.param("name")));
        LXM_TRY_VOID(etag_check(req, cur));
        LXM_TRY_VOID(prof.update(req.param("name"), put));
        return Response::empty();
    });
    add(api, "PATCH", "/1.0/profiles/{name}", [&prof](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        if (!body->is_object()) return http_error(400, "The request body must be a JSON object");
        LXM_TRY(json cur, prof.etag_state(req.param("name")));
        LXM_TRY_VOID(etag_check(req, cur));
        json merged = cur;
        for (const auto& [k, v] : body->items()) {
            if ((k == "config" || k == "devices") && v.is_object()) {
                for (const auto& [ck, cv] : v.items()) merged[k][ck] = cv;
            } else {
                merged[k] = v;
            }
        }
        auto put = apitypes::parse_as<apitypes::ProfilePut>(merged);
        if (!put) return http_error(400, put.error().context);
        LXM_TRY_VOID(prof.update(req.param("name"), *put));
        return Response::empty();
    });
    add(api, "POST", "/1.0/profiles/{name}", [&prof](const Request& req) -> Result<Response> {
        LXM_TRY(auto post, req.body_as<apitypes::ProfilePost>());
        LXM_TRY_VOID(prof.rename(req.param("name"), post.name));
        return Response::created(profile_url(post.name));
    });
    add(api, "DELETE", "/1.0/profiles/{name}", [&prof](const Request& req) -> Result<Response> {
        LXM_TRY_VOID(prof.remove(req.param("name")));
        return Response::empty();
    });
}

}  // namespace lxm::api
