// /1.0/storage-pools routes (see storage_routes.hpp).
#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "lxm/api/storage_routes.hpp"
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
std::string pool_url(const std::string& n) { return "/1.0/storage-pools/" + url_encode(n); }
// LXD's volume URL: .../volumes/<type>/<name>, a snapshot .../volumes/<type>/<inst>/snapshots/<snap>.
std::string volume_url(const std::string& pool, const json& v) {
    std::string name = v.value("name", "");
    std::string base = pool_url(pool) + "/volumes/" + v.value("type", "") + "/";
    auto slash = name.find('/');
    if (slash == std::string::npos) return base + url_encode(name);
    return base + url_encode(name.substr(0, slash)) + "/snapshots/" + url_encode(name.substr(slash + 1));
}
}  // namespace

void register_storage_routes(Api& api, core::StoragePools& pools) {
    add(api, "GET", "/1.0/storage-pools", [&pools](const Request& req) -> Result<Response> {
        json out = json::array();
        if (req.recursion() >= 1 || req.filter) {
            LXM_TRY(auto list, pools.list());
            for (auto& j : list) {
                if (req.filter && !req.filter->matches(j)) continue;
                if (req.recursion() >= 1) out.push_back(std::move(j));
                else out.push_back(pool_url(j.value("name", "")));
            }
        } else {
            LXM_TRY(auto names, pools.names());
            for (const auto& n : names) out.push_back(pool_url(n));
        }
        return Response::sync(out);
    });
    add(api, "POST", "/1.0/storage-pools", [&pools](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        LXM_TRY_VOID(pools.create(*body));
        return Response::created(pool_url(body->value("name", "")));
    });
    add(api, "GET", "/1.0/storage-pools/{name}", [&pools](const Request& req) -> Result<Response> {
        LXM_TRY(json j, pools.get(req.param("name")));
        json etag = json{{"description", j["description"]}, {"config", j["config"]}};
        return Response::sync_etag(j, etag_hash(etag));
    });
    add(api, "PUT", "/1.0/storage-pools/{name}", [&pools](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        LXM_TRY(json cur, pools.etag_state(req.param("name")));
        LXM_TRY_VOID(etag_check(req, cur));
        LXM_TRY_VOID(pools.update(req.param("name"), *body));
        return Response::empty();
    });
    add(api, "PATCH", "/1.0/storage-pools/{name}", [&pools](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        if (!body->is_object()) return http_error(400, "The request body must be a JSON object");
        LXM_TRY(json cur, pools.etag_state(req.param("name")));
        LXM_TRY_VOID(etag_check(req, cur));
        json merged = cur;
        for (const auto& [k, v] : body->items()) {
            if (k == "config" && v.is_object()) {
                for (const auto& [ck, cv] : v.items()) merged[k][ck] = cv;
            } else {
                merged[k] = v;
            }
        }
        LXM_TRY_VOID(pools.update(req.param("name"), merged));
        return Response::empty();
    });
    add(api, "DELETE", "/1.0/storage-pools/{name}", [&pools](const Request& req) -> Result<Response> {
        LXM_TRY_VOID(pools.remove(req.param("name")));
        return Response::empty();
    });
    add(api, "GET", "/1.0/storage-pools/{name}/resources", [&pools](const Request& req) -> Result<Response> {
        LXM_TRY(json r, pools.resources(req.param("name")));
        return Response::sync(r);
    });
    add(api, "GET", "/1.0/storage-pools/{name}/volumes", [&pools](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto vols, pools.volumes(name));
        json out = json::array();
        for (auto& v : vols) {
            if (req.filter && !req.filter->matches(v)) continue;
            if (req.recursion() >= 1) out.push_back(std::move(v));
            else out.push_back(volume_url(name, v));
        }
        return Response::sync(out);
    });
    auto one_volume = [&pools](const std::string& pool, const std::string& type, const std::string& vname)
        -> Result<Response> {
        LXM_TRY(auto vols, pools.volumes(pool));
        for (auto& v : vols)
            if (v.value("type", "") == type && v.value("name", "") == vname) return Response::sync(v);
        return http_error(404, "Storage volume not found");
    };
    add(api, "GET", "/1.0/storage-pools/{name}/volumes/{type}/{vol}", [one_volume](const Request& req) {
        return one_volume(req.param("name"), req.param("type"), req.param("vol"));
    });
    add(api, "GET", "/1.0/storage-pools/{name}/volumes/{type}/{vol}/snapshots/{snap}", [one_volume](const Request& req) {
        return one_volume(req.param("name"), req.param("type"), req.param("vol") + "/" + req.param("snap"));
    });
}

}  // namespace lxm::api
