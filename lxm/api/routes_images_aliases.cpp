// Image aliases as LXD serves them: GET/POST /1.0/images/aliases,
// GET/PUT/PATCH/POST(rename)/DELETE /1.0/images/aliases/<name>. Alias names may
// hold '/' ("debian/12"): clients send it percent-encoded or raw; both are served.
#include <nlohmann/json.hpp>

#include "lxm/api/routes_images.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "store/images.hpp"

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

std::string alias_name(const Request& req) {
    std::string name = req.param("a");
    if (!req.param("b").empty()) name += "/" + req.param("b");
    return name;
}

Result<store::ImageAlias> get_alias(store::Transaction& tx, const std::string& name) {
    auto a = store::get_image_alias(tx, name);
    if (!a && a.error().code == std::errc::no_such_file_or_directory)
        return http_error(404, "Image alias \"" + name.substr(0, 128) + "\" not found");
    return a;
}

json etag_of(const store::ImageAlias& a) { return json{{"description", a.description}, {"target", a.fingerprint}}; }

Result<std::string> string_field(const json& b, const char* key) {
    auto it = b.find(key);
    if (it == b.end() || it->is_null()) return std::string();
    if (!it->is_string()) return http_error(400, std::string(key) + " must be a string");
    return it->get<std::string>();
}

// The full fingerprint of target (prefixes allowed), 404/400 otherwise.
Result<std::string> target_fp(store::Transaction& tx, const std::string& target) {
    if (target.empty()) return http_error(400, "The alias needs a target image");
    auto img = store::find_image(tx, target);
    if (!img && img.error().code == std::errc::no_such_file_or_directory)
        return http_error(404, "Image \"" + target.substr(0, 64) + "\" not found");
    if (!img && img.error().code == std::errc::invalid_argument)
        return http_error(400, "Ambiguous image fingerprint prefix");
    if (!img) return std::unexpected(img.error());
    return img->fingerprint;
}

}  // namespace

void register_image_alias_routes(Api& api, DaemonRoutes& dr) {
    auto& st = dr.state;
    auto& images = dr.images;
    add(api, "GET", "/1.0/images/aliases", [&st](const Request& req) -> Result<Response> {
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
    add(api, "POST", "/1.0/images/aliases", [&images](const Request& req) -> Result<Response> {
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        if (!body->is_object()) return http_error(400, "The request body must be a JSON object");
        LXM_TRY(std::string name, string_field(*body, "name"));
        LXM_TRY(std::string desc, string_field(*body, "description"));
        LXM_TRY(std::string target, string_field(*body, "target"));
        LXM_TRY(std::string type, string_field(*body, "type"));
        if (!type.empty() && type != "container")
            return http_error(400, "Alias type \"" + type.substr(0, 32) + "\" is not supported");
        if (target.empty()) return http_error(400, "The alias needs a target image");
        LXM_TRY_VOID(images.create_alias(store::ImageAlias{name, target, desc}));
        return Response::created("/1.0/images/aliases/" + url_encode(name));
    });

    auto get = [&st](const Request& req) -> Result<Response> {
        std::string name = alias_name(req);
        return st.store().read([&](store::Transaction& tx) -> Result<Response> {
            LXM_TRY(auto a, get_alias(tx, name));
            return Response::sync_etag(alias_json(a), etag_hash(etag_of(a)));
        });
    };
    auto put = [&st](bool patch) {
        return [&st, patch](const Request& req) -> Result<Response> {
            std::string name = alias_name(req);
            const auto& body = req.json_body();
            if (!body) return std::unexpected(body.error());
            if (!body->is_object()) return http_error(400, "The request body must be a JSON object");
            return st.store().write([&](store::Transaction& tx) -> Result<Response> {
                LXM_TRY(auto a, get_alias(tx, name));
                LXM_TRY_VOID(etag_check(req, etag_of(a)));
                if (!patch || body->contains("description")) {
                    LXM_TRY(a.description, string_field(*body, "description"));
                }
                if (!patch || body->contains("target")) {
                    LXM_TRY(std::string t, string_field(*body, "target"));
                    LXM_TRY(a.fingerprint, target_fp(tx, t));
                }
                LXM_TRY_VOID(store::update_image_alias(tx, a));
                return Response::empty();
            });
        };
    };
    auto rename = [&st](const Request& req) -> Result<Response> {
        std::string name = alias_name(req);
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        if (!body->is_object()) return http_error(400, "The request body must be a JSON object");
        LXM_TRY(std::string to, string_field(*body, "name"));
        if (to.empty() || to.size() > 255) return http_error(400, "Bad alias name");
        return st.store().write([&](store::Transaction& tx) -> Result<Response> {
            LXM_TRY(auto a, get_alias(tx, name));
            (void)a;
            auto exists = store::get_image_alias(tx, to);
            if (exists) return http_error(409, "Alias \"" + to.substr(0, 128) + "\" already exists");
            LXM_TRY_VOID(store::rename_image_alias(tx, name, to));
            return Response::created("/1.0/images/aliases/" + url_encode(to));
        });
    };
    auto del = [&st](const Request& req) -> Result<Response> {
        std::string name = alias_name(req);
        return st.store().write([&](store::Transaction& tx) -> Result<Response> {
            LXM_TRY(auto a, get_alias(tx, name));
            (void)a;
            LXM_TRY_VOID(store::delete_image_alias(tx, name));
            return Response::empty();
        });
    };
    for (const char* pattern : {"/1.0/images/aliases/{a}", "/1.0/images/aliases/{a}/{b}"}) {
        add(api, "GET", pattern, get);
        add(api, "PUT", pattern, put(false));
        add(api, "PATCH", pattern, put(true));
        add(api, "POST", pattern, rename);
        add(api, "DELETE", pattern, del);
    }
}

}  // namespace lxm::api
