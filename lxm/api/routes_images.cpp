// Images as LXD serves them: GET /1.0/images (recursion, filter), GET/PUT/PATCH/
// DELETE /1.0/images/<fp> (fingerprint prefixes resolve when unique; ETag over
// the writable fields), GET /1.0/images/<fp>/export (a unified image as its
// tarball with Content-Disposition; a split image as multipart/form-data with the
// parts "metadata" and "rootfs", as lxd:lxd/images.go imageExport sends them).
// POST /1.0/images is in routes_images_post.cpp, aliases in routes_images_aliases.cpp.
#include "lxm/api/routes_images.hpp"

#include <nlohmann/json.hpp>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/multipart.hpp"
#include "lxm/apitypes/time.hpp"
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

std::string rfc3339(int64_t ns) {
    if (ns == 0) return apitypes::format_rfc3339(apitypes::zero_time());
    return apitypes::format_rfc3339(apitypes::Timestamp(std::chrono::nanoseconds(ns)));
}

Result<store::ImageRecord> find(store::Transaction& tx, const std::string& fp) {
    auto img = store::find_image(tx, fp);
    if (!img && img.error().code == std::errc::no_such_file_or_directory) return http_error(404, "Image not found");
    if (!img && img.error().code == std::errc::invalid_argument)
        return http_error(400, "Ambiguous image fingerprint prefix");
    return img;
}

json etag_of(const store::ImageRecord& r) {
    return json{{"auto_update", r.auto_update}, {"properties", r.properties}, {"public", r.is_public},
                {"expires_at", rfc3339(r.expires_at.value_or(0))}};
}

// ImagePut fields present in the body, applied to rec (PATCH: only those given).
Result<void> apply_put(const json& b, store::ImageRecord& rec, bool patch) {
    if (!b.is_object()) return http_error(400, "The request body must be a JSON object");
    if (auto it = b.find("public"); it != b.end() && !it->is_null()) {
        if (!it->is_boolean()) return http_error(400, "public must be a boolean");
        rec.is_public = it->get<bool>();
    } else if (!patch) {
        rec.is_public = false;
    }
    if (auto it = b.find("auto_update"); it != b.end() && !it->is_null()) {
        if (!it->is_boolean()) return http_error(400, "auto_update must be a boolean");
        rec.auto_update = it->get<bool>();
    } else if (!patch) {
        rec.auto_update = false;
    }
    if (auto it = b.find("properties"); it != b.end() && !it->is_null()) {
        if (!it->is_object()) return http_error(400, "properties must be an object");
        store::ConfigMap props = patch ? rec.properties : store::ConfigMap{};
        for (const auto& [k, v] : it->items()) {
            if (!v.is_string()) return http_error(400, "property \"" + k.substr(0, 64) + "\" must be a string");
            props[k] = v.get<std::string>();
        }
        rec.properties = std::move(props);
    } else if (!patch) {
        rec.properties.clear();
    }
    if (auto it = b.find("expires_at"); it != b.end() && it->is_string()) {
        auto t = apitypes::parse_rfc3339(it->get<std::string>());
        if (!t) return http_error(400, "expires_at: " + t.error().context);
        if (*t == apitypes::zero_time()) rec.expires_at.reset();
        else rec.expires_at = std::chrono::duration_cast<std::chrono::nanoseconds>(t->time_since_epoch()).count();
    }
    return {};
}

}  // namespace

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

Result<Response> finished_operation(Api& api, std::string description, json metadata, std::vector<std::string> urls) {
    OperationSpec spec;
    spec.description = std::move(description);
    spec.resources = {{"images", std::move(urls)}};
    spec.metadata = std::move(metadata);
    LXM_TRY(auto op, api.operations().create(std::move(spec)));
    op->finish({});
    return Response::async(op->snapshot());
}

void register_image_routes(Api& api, DaemonRoutes& dr) {
    auto& st = dr.state;
    auto& images = dr.images;
    add(api, "GET", "/1.0/images", [&st](const Request& req) -> Result<Response> {
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
    add(api, "GET", "/1.0/images/{fp}", [&st](const Request& req) -> Result<Response> {
        return st.store().read([&](store::Transaction& tx) -> Result<Response> {
            LXM_TRY(auto img, find(tx, req.param("fp")));
            LXM_TRY(auto aliases, store::list_image_aliases(tx));
            return Response::sync_etag(image_json(img, aliases), etag_hash(etag_of(img)));
        });
    });
    for (auto [method, patch] : {std::pair{"PUT", false}, std::pair{"PATCH", true}}) {
        add(api, method, "/1.0/images/{fp}", [&st, patch](const Request& req) -> Result<Response> {
            const auto& body = req.json_body();
            if (!body) return std::unexpected(body.error());
            return st.store().write([&](store::Transaction& tx) -> Result<Response> {
                LXM_TRY(auto img, find(tx, req.param("fp")));
                LXM_TRY_VOID(etag_check(req, etag_of(img)));
                LXM_TRY_VOID(apply_put(*body, img, patch));
                LXM_TRY_VOID(store::update_image(tx, img));
                return Response::empty();
            });
        });
    }
    add(api, "DELETE", "/1.0/images/{fp}", [&api, &st, &images](const Request& req) -> Result<Response> {
        LXM_TRY(auto img, st.store().read([&](store::Transaction& tx) { return find(tx, req.param("fp")); }));
        LXM_TRY_VOID(images.remove(img.fingerprint));
        return finished_operation(api, "Deleting image", nullptr, {"/1.0/images/" + img.fingerprint});
    });
    add(api, "GET", "/1.0/images/{fp}/export", [&st, &images](const Request& req) -> Result<Response> {
        LXM_TRY(auto img, st.store().read([&](store::Transaction& tx) { return find(tx, req.param("fp")); }));
        auto* is = images.image_store();
        if (!is) return base::make_error(std::errc::io_error, "the image store is not open");
        if (!is->has(img.fingerprint))
            return http_error(404, "Image " + img.fingerprint.substr(0, 12) +
                                       " has no files yet (a built-in recipe is built on first use)");
        LXM_TRY(auto files, is->export_files(img.fingerprint));
        std::string filename = img.filename.empty() ? img.fingerprint + ".tar.gz" : img.filename;
        // Names of our own making only: no quotes or path separators in the header.
        for (auto& c : filename)
            if (c == '"' || c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
        if (files.size() == 1) {
            Response r = Response::files(200, "application/octet-stream", {BodyPart{.file = files[0]}});
            r.with_header("Content-Disposition", "attachment; filename=\"" + filename + "\"");
            return r;
        }
        std::string b = apitypes::make_boundary();
        std::vector<BodyPart> parts{
            BodyPart{.data = apitypes::multipart_part_header(b, "metadata", "meta-" + filename, true)},
            BodyPart{.file = files[0]},
            BodyPart{.data = apitypes::multipart_part_header(b, "rootfs", filename, false)},
            BodyPart{.file = files[1]},
            BodyPart{.data = apitypes::multipart_trailer(b)},
        };
        return Response::files(200, "multipart/form-data; boundary=" + b, std::move(parts));
    });
    register_image_post_routes(api, dr);
    register_image_alias_routes(api, dr);
}

}  // namespace lxm::api
