// /1.0/storage-pools routes (see storage_routes.hpp).
#include <nlohmann/json.hpp>

#include "lxm/api/config_resource_routes.hpp"
#include "lxm/api/daemon_routes.hpp"
#include "lxm/api/storage_routes.hpp"
#include "lxm/apitypes/http_error.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {
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
    add_config_resource_routes(api, "/1.0/storage-pools", pools);
    add_json_route(api, "GET", "/1.0/storage-pools/{name}/resources", [&pools](const Request& req) -> Result<Response> {
        LXM_TRY(json r, pools.resources(req.param("name")));
        return Response::sync(r);
    });
    add_json_route(api, "GET", "/1.0/storage-pools/{name}/volumes", [&pools](const Request& req) -> Result<Response> {
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
    add_json_route(api, "GET", "/1.0/storage-pools/{name}/volumes/{type}/{vol}", [one_volume](const Request& req) {
        return one_volume(req.param("name"), req.param("type"), req.param("vol"));
    });
    add_json_route(api, "GET", "/1.0/storage-pools/{name}/volumes/{type}/{vol}/snapshots/{snap}", [one_volume](const Request& req) {
        return one_volume(req.param("name"), req.param("type"), req.param("vol") + "/" + req.param("snap"));
    });
}

}  // namespace lxm::api
