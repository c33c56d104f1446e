// /1.0/instances/<n>/metadata (GET/PUT/PATCH: the instance's metadata.yaml as LXD's
// ImageMetadata) and /1.0/instances/<n>/metadata/templates (GET: the file names, or one
// file with ?path=; POST ?path= uploads one; DELETE ?path=). LXD's container_edit_metadata.
#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "lxm/apitypes/http_error.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {

constexpr size_t kTemplateBodyLimit = 1 << 20;

void add(Api& api, std::string_view method, std::string_view pattern, Handler h, size_t limit = kJsonBodyLimit) {
    Route r;
    r.handler = std::move(h);
    r.blocking = true;
    r.body_limit = limit;
    api.router().add(method, pattern, std::move(r));
}

json to_wire(const store::ImageMetadata& m) {
    json templates = json::object();
    for (const auto& [path, t] : m.templates)
        templates[path] = {{"when", t.when},
                           {"create_only", t.create_only},
                           {"template", t.template_file},
                           {"properties", t.properties}};
    return {{"architecture", m.architecture},
            {"creation_date", m.creation_date},
            {"expiry_date", m.expiry_date},
            {"properties", m.properties},
            {"templates", templates}};
}

// The keys present in j replace those of m (PUT: over an empty one; PATCH: over the current one).
Result<void> from_wire(const json& j, store::ImageMetadata& m) {
    if (!j.is_object()) return http_error(400, "The metadata must be an object");
    try {
        if (j.contains("architecture") && !j["architecture"].is_null()) m.architecture = j["architecture"].get<std::string>();
        if (j.contains("creation_date") && !j["creation_date"].is_null()) m.creation_date = j["creation_date"].get<int64_t>();
        if (j.contains("expiry_date") && !j["expiry_date"].is_null()) m.expiry_date = j["expiry_date"].get<int64_t>();
        if (j.contains("properties")) {
            m.properties.clear();
            if (!j["properties"].is_null()) m.properties = j["properties"].get<std::map<std::string, std::string>>();
        }
        if (j.contains("templates")) {
            m.templates.clear();
            if (!j["templates"].is_null()) {
                if (!j["templates"].is_object()) return http_error(400, "templates must be an object");
                for (const auto& [path, t] : j["templates"].items()) {
                    if (!t.is_object()) return http_error(400, "template \"" + path.substr(0, 64) + "\" must be an object");
                    store::ImageTemplate it;
                    if (t.contains("when") && !t["when"].is_null()) it.when = t["when"].get<std::vector<std::string>>();
                    it.create_only = t.value("create_only", false);
                    it.template_file = t.value("template", std::string());
                    if (t.contains("properties") && !t["properties"].is_null())
                        it.properties = t["properties"].get<std::map<std::string, std::string>>();
                    m.templates[path] = std::move(it);
                }
            }
        }
    } catch (const json::exception& e) {
        return http_error(400, std::string("Invalid metadata: ") + e.what());
    }
    return {};
}

Result<std::string> path_param(const Request& req) {
    auto p = req.query_value("path");
    if (!p || p->empty()) return http_error(400, "Missing path argument");
    return *p;
}

}  // namespace

void register_instance_metadata_routes(Api& api, DaemonRoutes& dr) {
    auto& inst = dr.instances;

    add(api, "GET", "/1.0/instances/{name}/metadata", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(auto m, inst.metadata(req.param("name")));
        json j = to_wire(m);
        return Response::sync_etag(j, etag_hash(j));
    });

    auto write = [&inst](const Request& req, bool patch) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto cur, inst.metadata(name));
        LXM_TRY_VOID(etag_check(req, to_wire(cur)));
        json body;
        try {
            body = json::parse(req.body);
        } catch (const json::exception& e) {
            return http_error(400, std::string("Invalid JSON: ") + e.what());
        }
        store::ImageMetadata next = patch ? cur : store::ImageMetadata{};
        LXM_TRY_VOID(from_wire(body, next));
        LXM_TRY_VOID(inst.set_metadata(name, std::move(next)));
        return Response::empty();
    };
    add(api, "PUT", "/1.0/instances/{name}/metadata", [write](const Request& req) { return write(req, false); });
    add(api, "PATCH", "/1.0/instances/{name}/metadata", [write](const Request& req) { return write(req, true); });

    add(api, "GET", "/1.0/instances/{name}/metadata/templates", [&inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        auto p = req.query_value("path");
        if (!p || p->empty()) {
            LXM_TRY(auto files, inst.template_files(name));
            return Response::sync(files);
        }
        LXM_TRY(std::string text, inst.template_file(name, *p));
        return Response::raw(200, "application/octet-stream", std::move(text));
    });
    add(
        api, "POST", "/1.0/instances/{name}/metadata/templates",
        [&inst](const Request& req) -> Result<Response> {
            LXM_TRY(std::string file, path_param(req));
            LXM_TRY_VOID(inst.put_template_file(req.param("name"), file, req.body));
            return Response::empty();
        },
        kTemplateBodyLimit);
    add(api, "DELETE", "/1.0/instances/{name}/metadata/templates", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(std::string file, path_param(req));
        LXM_TRY_VOID(inst.delete_template_file(req.param("name"), file));
        return Response::empty();
    });
    api.server_info().extensions.push_back("container_edit_metadata");
}

}  // namespace lxm::api
