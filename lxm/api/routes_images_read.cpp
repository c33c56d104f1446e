// Read-only image routes, enough for `lxc launch <local alias>` (LXD-API.md
// §2.3): GET /1.0/images[/<fp>] and GET /1.0/images/aliases[/<name>]. The
// image store (issue 4) owns the full /1.0/images API (import, export,
// delete, alias changes); its routes replace these when registered later.
#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/time.hpp"
#include "store/images.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {

void add(Api& api, std::string_view pattern, Handler h) {
    Route r;
    r.handler = std::move(h);
    r.blocking = true;
    api.router().add("GET", pattern, std::move(r));
}

std::string rfc3339(int64_t ns) {
    if (ns == 0) return apitypes::format_rfc3339(apitypes::zero_time());
    return apitypes::format_rfc3339(apitypes::Timestamp(std::chrono::nanoseconds(ns)));
}

json image_json(const store::ImageRecord& r, const std::vector<store::ImageAlias>& aliases) {
    json al = json::array();
    for (const auto& a : aliases)
        if (a.fingerprint == r.fingerprint) al.push_back({{"name", a.name}, {"description", a.description}});
    return json{{"fingerprint", r.fingerprint},
                {"filename", r.filename},
                {"size", r.size},
                {"public", r.is_public},
                {"auto_update", r.auto_update},
                {"cached", r.cached},
                {"architecture", r.architecture},
                {"type", r.type},
                {"properties", r.properties},
                {"aliases", al},
                {"profiles", json::array({"default"})},
                {"created_at", rfc3339(r.created_at)},
                {"uploaded_at", rfc3339(r.uploaded_at)},
                {"last_used_at", rfc3339(r.last_used_at)},
                {"expires_at", rfc3339(r.expires_at.value_or(0))}};
}

json alias_json(const store::ImageAlias& a) {
    return json{{"name", a.name}, {"description", a.description}, {"target", a.fingerprint}, {"type", "container"}};
}

}  // namespace

void register_image_read_routes(Api& api, DaemonRoutes& dr) {
    auto& st = dr.state;
    add(api, "/1.0/images", [&st](const Request& req) -> Result<Response> {
        return st.store().read([&](store::Transaction& tx) -> Result<Response> {
            LXM_TRY(auto imgs, store::list_images(tx));
            LXM_TRY(auto aliases, store::list_image_aliases(tx));
            json out = json::array();
            for (const auto& i : imgs) {
                json j = image_json(i, aliases);
                if (req.filter && !req.filter->matches(j)) continue;
                if (req.recursion() >= 1) out.push_back(std::move(j));
                else out.push_back("/1.0/images/" + i.fingerprint);
            }
            return Response::sync(out);
        });
    });
    add(api, "/1.0/images/{fp}", [&st](const Request& req) -> Result<Response> {
        return st.store().read([&](store::Transaction& tx) -> Result<Response> {
            auto img = store::find_image(tx, req.param("fp"));
            if (!img && img.error().code == std::errc::no_such_file_or_directory)
                return http_error(404, "Image not found");
            if (!img && img.error().code == std::errc::invalid_argument)
                return http_error(400, "Ambiguous image fingerprint prefix");
            if (!img) return std::unexpected(img.error());
            LXM_TRY(auto aliases, store::list_image_aliases(tx));
            return Response::sync(image_json(*img, aliases));
        });
    });
    add(api, "/1.0/images/aliases", [&st](const Request& req) -> Result<Response> {
        return st.store().read([&](store::Transaction& tx) -> Result<Response> {
            LXM_TRY(auto aliases, store::list_image_aliases(tx));
            json out = json::array();
            for (const auto& a : aliases) {
                if (req.recursion() >= 1) out.push_back(alias_json(a));
                else out.push_back("/1.0/images/aliases/" + url_encode(a.name));
            }
            return Response::sync(out);
        });
    });
    // Alias names contain '/' ("debian/12"): clients send it percent-encoded or raw; serve both.
    auto alias_get = [&st](const Request& req) -> Result<Response> {
        std::string name = req.param("a");
        if (!req.param("b").empty()) name += "/" + req.param("b");
        return st.store().read([&](store::Transaction& tx) -> Result<Response> {
            auto a = store::get_image_alias(tx, name);
            if (!a && a.error().code == std::errc::no_such_file_or_directory)
                return http_error(404, "Image alias \"" + name.substr(0, 128) + "\" not found");
            if (!a) return std::unexpected(a.error());
            return Response::sync(alias_json(*a));
        });
    };
    add(api, "/1.0/images/aliases/{a}", alias_get);
    add(api, "/1.0/images/aliases/{a}/{b}", alias_get);
}

}  // namespace lxm::api
