// Files (GET/POST/DELETE /1.0/instances/<n>/files?path=, LXD's X-LXD-* headers)
// and logs (GET /1.0/instances/<n>/logs[/<file>]).
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/core/instance_files.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {

void add(Api& api, std::string_view method, std::string_view pattern, Handler h, size_t limit = kJsonBodyLimit) {
    Route r;
    r.handler = std::move(h);
    r.blocking = true;
    r.body_limit = limit;
    api.router().add(method, pattern, std::move(r));
}

Result<int64_t> header_number(const Request& req, const std::string& name, int base, int64_t def) {
    std::string v = req.header(name);
    if (v.empty()) return def;
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(v.c_str(), &end, base);
    if (errno != 0 || *end != '\0' || end == v.c_str())
        return http_error(400, "Invalid header " + name + ": \"" + v.substr(0, 32) + "\"");
    return static_cast<int64_t>(n);
}

std::string octal(uint32_t mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", mode);
    return buf;
}

Result<std::string> path_param(const Request& req) {
    auto p = req.query_value("path");
    if (!p || p->empty()) return http_error(400, "Missing path argument");
    return *p;
}

}  // namespace

void register_file_routes(Api& api, DaemonRoutes& dr) {
    auto& inst = dr.instances;

    add(api, "GET", "/1.0/instances/{name}/files", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(std::string path, path_param(req));
        core::FileEntry entry;
        LXM_TRY_VOID(inst.with_root(req.param("name"), [&](const core::InstanceRoot& root) -> Result<void> {
            LXM_TRY(entry, core::read_instance_path(root, path));
            return {};
        }));
        Response r = entry.type == "directory" ? Response::sync(entry.entries)
                                               : Response::raw(200, "application/octet-stream", std::move(entry.content));
        r.with_header("X-LXD-uid", std::to_string(entry.uid))
            .with_header("X-LXD-gid", std::to_string(entry.gid))
            .with_header("X-LXD-mode", octal(entry.mode))
            .with_header("X-LXD-type", entry.type);
        return r;
    });

    add(api, "POST", "/1.0/instances/{name}/files", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(std::string path, path_param(req));
        core::FileWrite w;
        LXM_TRY(int64_t uid, header_number(req, "x-lxd-uid", 10, 0));
        LXM_TRY(int64_t gid, header_number(req, "x-lxd-gid", 10, 0));
        LXM_TRY(int64_t mode, header_number(req, "x-lxd-mode", 8, -1));
        if (uid < -1 || uid > 65535 || gid < -1 || gid > 65535) return http_error(400, "uid/gid out of range");
        if (mode > 07777) return http_error(400, "Invalid mode");
        w.uid = uid < 0 ? 0 : static_cast<uint32_t>(uid);
        w.gid = gid < 0 ? 0 : static_cast<uint32_t>(gid);
        w.mode = static_cast<int>(mode);
        std::string type = req.header("x-lxd-type");
        w.type = type.empty() ? "file" : type;
        std::string mode_hdr = req.header("x-lxd-write");
        if (!mode_hdr.empty() && mode_hdr != "overwrite" && mode_hdr != "append")
            return http_error(400, "Invalid X-LXD-write \"" + mode_hdr.substr(0, 16) + "\"");
        w.append = mode_hdr == "append";
        w.content = req.body;
        LXM_TRY_VOID(inst.with_root(req.param("name"), [&](const core::InstanceRoot& root) {
            return core::write_instance_path(root, path, w);
        }));
        return Response::empty();
    }, kFileBodyLimit);

    add(api, "DELETE", "/1.0/instances/{name}/files", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(std::string path, path_param(req));
        LXM_TRY_VOID(inst.with_root(req.param("name"), [&](const core::InstanceRoot& root) {
            return core::delete_instance_path(root, path);
        }));
        return Response::empty();
    });

    add(api, "GET", "/1.0/instances/{name}/logs", [&inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto files, inst.log_files(name));
        json out = json::array();
        for (const auto& f : files) out.push_back(req.url("/1.0/instances/" + url_encode(name) + "/logs/" + url_encode(f)));
        return Response::sync(out);
    });
    add(api, "GET", "/1.0/instances/{name}/logs/{file}", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(std::string text, inst.log_file(req.param("name"), req.param("file")));
        return Response::raw(200, "text/plain", std::move(text));
    });
}

}  // namespace lxm::api
