// POST /1.0/images, as the LXD client sends it:
//   - upload, unified: the tarball as the raw body (application/octet-stream);
//   - upload, split: multipart/form-data with the parts "metadata" and "rootfs";
//     headers X-LXD-fingerprint (checked), X-LXD-filename, X-LXD-public,
//     X-LXD-properties (url-encoded k=v pairs), X-LXD-aliases (url-encoded
//     alias=NAME pairs). The body is streamed into the image store's directory
//     (bounded by kImageUploadLimit), never held in memory. The import happens
//     in the request: bad content is answered 400 (409 for an image already
//     stored) with nothing kept; success is an operation that is already done,
//     carrying {fingerprint, size} like LXD's.
//   - JSON {source: {type: "instance"|"container"|"snapshot", name: "c1"|"c1/snap"},
//     aliases, properties, public, filename}: publish, an async operation.
//   - JSON {source: {type: "recipe", recipe: <yaml text>, templates: {name: text}}}
//     (lxm's own): build a recipe image on the server, async with progress.
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "lxm/api/routes_images.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/multipart.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {

// A file in the image store directory removed when this goes (unless released).
struct OwnedFile {
    std::string path;
    OwnedFile() = default;
    explicit OwnedFile(std::string p) : path(std::move(p)) {}
    OwnedFile(OwnedFile&& o) noexcept : path(std::exchange(o.path, {})) {}
    OwnedFile& operator=(OwnedFile&& o) noexcept {
        if (this != &o) {
            if (!path.empty()) ::unlink(path.c_str());
            path = std::exchange(o.path, {});
        }
        return *this;
    }
    ~OwnedFile() {
        if (!path.empty()) ::unlink(path.c_str());
    }
};

Result<OwnedFile> new_file(const std::string& dir, const std::string& tag, base::UniqueFd& fd) {
    std::string tmpl = dir + "/.tmp-" + tag + "-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    int f = ::mkostemp(name.data(), O_CLOEXEC);
    if (f < 0) return base::errno_error("create " + tmpl);
    fd.reset(f);
    return OwnedFile(name.data());
}

// Split a multipart upload into its metadata and rootfs files.
Result<std::pair<OwnedFile, OwnedFile>> split_multipart(const std::string& body_file, const std::string& boundary,
                                                        const std::string& dir) {
    OwnedFile meta, rootfs;
    base::UniqueFd meta_fd, rootfs_fd;
    int cur = -1;
    apitypes::MultipartReader::Handler h;
    h.begin = [&](const apitypes::MultipartPart& p) -> Result<void> {
        if (p.name == "metadata" && meta.path.empty()) {
            LXM_TRY(meta, new_file(dir, "meta", meta_fd));
            cur = meta_fd.get();
        } else if ((p.name == "rootfs" || p.name == "rootfs.img") && rootfs.path.empty()) {
            if (p.name == "rootfs.img") return http_error(400, "Virtual-machine images are not supported");
            LXM_TRY(rootfs, new_file(dir, "rootfs", rootfs_fd));
            cur = rootfs_fd.get();
        } else {
            return http_error(400, "Unexpected part \"" + p.name.substr(0, 32) + "\" in the image upload");
        }
        return {};
    };
    h.data = [&](std::string_view d) -> Result<void> { return base::write_all(cur, d); };
    h.end = [&]() -> Result<void> {
        cur = -1;
        return {};
    };
    apitypes::MultipartReader reader(boundary, h);
    LXM_TRY(base::UniqueFd in, base::open_fd(body_file, O_RDONLY | O_CLOEXEC));
    std::vector<char> buf(1 << 20);
    for (;;) {
        LXM_TRY(size_t n, base::read_some(in.get(), buf.data(), buf.size()));
        if (n == 0) break;
        auto r = reader.feed(std::string_view(buf.data(), n));
        if (!r) return apitypes::http_status_of(r.error()) ? std::unexpected(r.error())
                                                          : http_error(400, "Invalid image upload: " + r.error().message());
    }
    auto r = reader.finish();
    if (!r) return http_error(400, "Invalid image upload: " + r.error().message());
    if (meta.path.empty() || rootfs.path.empty())
        return http_error(400, "A split image upload needs the parts \"metadata\" and \"rootfs\"");
    return std::pair<OwnedFile, OwnedFile>(std::move(meta), std::move(rootfs));
}

// Values of key in an url-encoded header ("a=1&b=2").
std::map<std::string, std::string> query_header(const Request& req, const std::string& name) {
    std::string v = req.header(name);
    if (v.empty()) return {};
    return parse_query(v);
}

std::vector<std::string> query_all(std::string_view q, const std::string& key) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= q.size()) {
        size_t amp = q.find('&', pos);
        if (amp == std::string_view::npos) amp = q.size();
        std::string_view kv = q.substr(pos, amp - pos);
        auto eq = kv.find('=');
        if (eq != std::string_view::npos && url_decode(kv.substr(0, eq), true) == key)
            out.push_back(url_decode(kv.substr(eq + 1), true));
        pos = amp + 1;
    }
    return out;
}

Result<core::ImageOptions> options_from_json(const json& b) {
    core::ImageOptions o;
    if (auto it = b.find("public"); it != b.end() && it->is_boolean()) o.is_public = it->get<bool>();
    if (auto it = b.find("filename"); it != b.end() && it->is_string()) o.filename = it->get<std::string>();
    if (auto it = b.find("properties"); it != b.end() && !it->is_null()) {
        if (!it->is_object()) return http_error(400, "properties must be an object");
        for (const auto& [k, v] : it->items()) {
            if (!v.is_string()) return http_error(400, "property \"" + k.substr(0, 64) + "\" must be a string");
            o.properties[k] = v.get<std::string>();
        }
    }
    if (auto it = b.find("aliases"); it != b.end() && !it->is_null()) {
        if (!it->is_array()) return http_error(400, "aliases must be an array");
        for (const auto& a : *it) {
            if (!a.is_object() || !a.contains("name") || !a["name"].is_string())
                return http_error(400, "each alias needs a name");
            o.aliases.push_back(store::ImageAlias{a["name"].get<std::string>(), "", a.value("description", "")});
        }
    }
    return o;
}

json op_metadata(const store::ImageRecord& r) { return json{{"fingerprint", r.fingerprint}, {"size", r.size}}; }

Result<Response> upload(Api& api, DaemonRoutes& dr, const Request& req) {
    core::ImageOptions o;
    o.filename = req.header("x-lxd-filename");
    if (o.filename.find('/') != std::string::npos) o.filename = o.filename.substr(o.filename.rfind('/') + 1);
    o.is_public = req.header("x-lxd-public") == "true" || req.header("x-lxd-public") == "1";
    for (const auto& [k, v] : query_header(req, "x-lxd-properties")) o.properties[k] = v;
    for (const auto& a : query_all(req.header("x-lxd-aliases"), "alias")) o.aliases.push_back(store::ImageAlias{a, "", ""});
    core::ImageUpload up;
    up.expected_fingerprint = req.header("x-lxd-fingerprint");
    if (!up.expected_fingerprint.empty() && !store::valid_fingerprint(up.expected_fingerprint))
        return http_error(400, "X-LXD-fingerprint is not a sha256 fingerprint");
    std::string dir = dr.images.store_dir();
    // The body file goes when this request ends; the import moves what it keeps.
    std::optional<std::pair<OwnedFile, OwnedFile>> parts;
    if (auto b = apitypes::multipart_boundary(req.header("content-type"))) {
        LXM_TRY(parts, split_multipart(req.body_file, *b, dir));
        ::unlink(req.body_file.c_str());  // its bytes are in the two parts now
        up.metadata_or_unified = parts->first.path;
        up.rootfs = parts->second.path;
    } else {
        up.metadata_or_unified = req.body_file;
    }
    LXM_TRY(store::ImageRecord rec, dr.images.import(up, o));
    return finished_operation(api, "Uploading image", op_metadata(rec), {"/1.0/images/" + rec.fingerprint});
}

Result<Response> publish(Api& api, DaemonRoutes& dr, const json& body, const json& source) {
    LXM_TRY(core::ImageOptions o, options_from_json(body));
    std::string name = source.value("name", "");
    std::string type = source.value("type", "");
    core::PublishSource src;
    auto slash = name.find('/');
    src.instance = name.substr(0, slash);
    if (slash != std::string::npos) src.snapshot = name.substr(slash + 1);
    if (type == "snapshot" && src.snapshot.empty()) return http_error(400, "A snapshot source is named instance/snapshot");
    if (src.instance.empty()) return http_error(400, "The publish source needs a name");
    LXM_TRY(auto inst, dr.instances.get(src.instance));  // 404 before any operation
    (void)inst;
    OperationSpec spec;
    spec.description = "Publishing image";
    spec.resources = {{"instances", {"/1.0/instances/" + url_encode(src.instance)}}};
    auto& images = dr.images;
    auto& instances = dr.instances;
    spec.run = [&images, &instances, src, o](OperationContext& ctx) -> Result<void> {
        LXM_TRY(store::ImageRecord rec, images.publish(instances, src, o, [&ctx](const json& p) {
            ctx.update_metadata(p);
        }));
        ctx.update_metadata(op_metadata(rec));
        return {};
    };
    LXM_TRY(auto op, api.operations().create(std::move(spec)));
    return Response::async(op->snapshot());
}

Result<Response> build(Api& api, DaemonRoutes& dr, const json& body, const json& source) {
    LXM_TRY(core::ImageOptions o, options_from_json(body));
    auto r = source.find("recipe");
    if (r == source.end() || !r->is_string() || r->get<std::string>().empty())
        return http_error(400, "A recipe source needs the recipe text");
    std::string recipe = r->get<std::string>();
    std::map<std::string, std::string> templates;
    if (auto t = source.find("templates"); t != source.end() && !t->is_null()) {
        if (!t->is_object()) return http_error(400, "templates must be an object of file name to text");
        for (const auto& [k, v] : t->items()) {
            if (!v.is_string()) return http_error(400, "template \"" + k.substr(0, 64) + "\" must be text");
            templates[k] = v.get<std::string>();
        }
    }
    OperationSpec spec;
    spec.description = "Building image";
    auto& images = dr.images;
    spec.run = [&images, recipe, templates, o](OperationContext& ctx) -> Result<void> {
        LXM_TRY(store::ImageRecord rec, images.build_recipe(recipe, templates, o, [&ctx](const json& p) {
            ctx.update_metadata(p);
        }));
        ctx.update_metadata(op_metadata(rec));
        return {};
    };
    LXM_TRY(auto op, api.operations().create(std::move(spec)));
    return Response::async(op->snapshot());
}

}  // namespace

void register_image_post_routes(Api& api, DaemonRoutes& dr) {
    Route r;
    r.blocking = true;
    r.body_limit = kImageUploadLimit;
    r.body_to_dir = dr.images.store_dir();
    r.json_body_limit = kJsonBodyLimit;  // publish/build requests arrive in memory
    r.handler = [&api, &dr](const Request& req) -> Result<Response> {
        std::string ctype = req.header("content-type");
        if (!ctype.starts_with("application/json")) return upload(api, dr, req);
        json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) return http_error(400, "failed to parse request body");
        json source = body.value("source", json::object());
        if (!source.is_object()) return http_error(400, "source must be an object");
        std::string type = source.value("type", "");
        if (type == "instance" || type == "container" || type == "snapshot") return publish(api, dr, body, source);
        if (type == "recipe") return build(api, dr, body, source);
        if (type == "image" || type == "url")
            return http_error(400, "Image downloads from other servers are not supported: export and import the image");
        return http_error(400, "Unknown image source type \"" + type.substr(0, 32) + "\"");
    };
    api.router().add("POST", "/1.0/images", std::move(r));
}

}  // namespace lxm::api
