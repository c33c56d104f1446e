#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "lxm/api/backup_routes.hpp"
#include "lxm/api/operations.hpp"
#include "lxm/api/router.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/time.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {

constexpr size_t kJsonLimit = 1 << 20;
constexpr size_t kImportLimit = size_t{1} << 40;  // a backup may be large: it is unpacked as it arrives

std::string instance_url(const std::string& name) { return "/1.0/instances/" + url_encode(name); }
std::string backup_url(const std::string& name, const std::string& b) {
    return instance_url(name) + "/backups/" + url_encode(b);
}

apitypes::Timestamp ts(int64_t ns) {
    if (ns == 0) return apitypes::zero_time();
    return apitypes::Timestamp{std::chrono::nanoseconds(ns)};
}

json backup_json(const core::BackupRecord& b) {
    return json{{"name", b.name},
                {"created_at", ts(b.created_at)},
                {"expires_at", ts(b.expires_at.value_or(0))},
                {"instance_only", b.instance_only},
                {"container_only", b.instance_only},
                {"optimized_storage", b.optimized_storage}};
}

Result<core::BackupCreate> parse_create(const Request& req) {
    const auto& jb = req.json_body();
    if (!jb) return std::unexpected(jb.error());
    const json& j = *jb;
    if (!j.is_object()) return http_error(400, "The request body must be a JSON object");
    core::BackupCreate c;
    try {
        c.name = j.value("name", std::string());
        c.instance_only = j.value("instance_only", false) || j.value("container_only", false);
        c.optimized_storage = j.value("optimized_storage", false);
        c.compression = j.value("compression_algorithm", std::string());
    } catch (const std::exception& e) {
        return http_error(400, std::string("failed to parse request body: ") + e.what());
    }
    if (j.contains("expires_at") && j["expires_at"].is_string()) {
        auto t = apitypes::parse_rfc3339(j["expires_at"].get<std::string>());
        if (!t) return http_error(400, t.error().context);
        if (*t != apitypes::zero_time()) c.expires_at = t->time_since_epoch().count();
    }
    return c;
}

Result<Response> start(Api& api, OperationSpec spec) {
    LXM_TRY(auto op, api.operations().create(std::move(spec)));
    return Response::async(op->snapshot());
}

void add(Api& api, std::string_view method, std::string_view pattern, Handler h, bool blocking = true) {
    Route r;
    r.handler = std::move(h);
    r.blocking = blocking;
    r.body_limit = kJsonLimit;
    api.router().add(method, pattern, std::move(r));
}

}  // namespace

void register_backup_routes(Api& api, core::Backups& backups, core::DaemonState& state) {
    for (const char* e : {"container_backup", "backup_compression", "backup_compression_algorithm",
                          "container_backup_override_pool", "backup_override_name"}) {
        auto& ex = api.server_info().extensions;
        if (std::find(ex.begin(), ex.end(), e) == ex.end()) ex.push_back(e);
    }

    add(api, "GET", "/1.0/instances/{name}/backups", [&backups](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto all, backups.list(name));
        json out = json::array();
        for (const auto& b : all) {
            if (req.recursion() >= 1) out.push_back(backup_json(b));
            else out.push_back(req.url(backup_url(name, b.name)));
        }
        return Response::sync(out);
    });

    add(api, "POST", "/1.0/instances/{name}/backups", [&api, &backups](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto c, parse_create(req));
        LXM_TRY(c, backups.check_create(name, c));  // 404/400/409 before the operation
        OperationSpec spec;
        spec.description = "Backing up instance";
        spec.resources = {{"instances", {instance_url(name)}}, {"backups", {c.name}}};
        spec.run = [&backups, name, c](OperationContext&) { return backups.create(name, c); };
        return start(api, std::move(spec));
    });

    add(api, "GET", "/1.0/instances/{name}/backups/{backup}", [&backups](const Request& req) -> Result<Response> {
        LXM_TRY(auto b, backups.get(req.param("name"), req.param("backup")));
        return Response::sync(backup_json(b));
    });

    add(api, "DELETE", "/1.0/instances/{name}/backups/{backup}", [&api, &backups](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        const auto b = req.param("backup");
        LXM_TRY(auto rec, backups.get(name, b));
        (void)rec;
        OperationSpec spec;
        spec.description = "Removing instance backup";
        spec.resources = {{"instances", {instance_url(name)}}, {"backups", {b}}};
        spec.run = [&backups, name, b](OperationContext&) { return backups.remove(name, b); };
        return start(api, std::move(spec));
    });

    add(api, "POST", "/1.0/instances/{name}/backups/{backup}", [&api, &backups](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        const auto b = req.param("backup");
        const auto& jb = req.json_body();
        if (!jb) return std::unexpected(jb.error());
        if (!jb->is_object() || !jb->contains("name") || !(*jb)["name"].is_string())
            return http_error(400, "A new backup name is needed (name)");
        std::string to = (*jb)["name"].get<std::string>();
        LXM_TRY(auto rec, backups.get(name, b));
        (void)rec;
        OperationSpec spec;
        spec.description = "Renaming instance backup";
        spec.resources = {{"instances", {instance_url(name)}}, {"backups", {b}}};
        spec.run = [&backups, name, b, to](OperationContext&) { return backups.rename(name, b, to); };
        return start(api, std::move(spec));
    });

    add(api, "GET", "/1.0/instances/{name}/backups/{backup}/export", [&backups](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        const auto b = req.param("backup");
        LXM_TRY(auto rec, backups.get(name, b));
        (void)rec;
        Response r;
        r.status = 200;
        r.content_type = "application/octet-stream";
        r.producer = [&backups, name, b](int fd) { return backups.write_tarball(name, b, fd); };
        return r;
    });

    // Import: POST /1.0/instances with a tarball body. The instance route stays as it
    // is for JSON bodies (which now arrive in a file too and are read back, bounded).
    auto m = api.router().match("POST", "/1.0/instances");
    if (!m || !m->route) {
        LXM_ERROR("backup routes: POST /1.0/instances is not registered; import is unavailable");
        return;
    }
    Route orig = *m->route;
    Route wrapped = orig;
    wrapped.blocking = true;
    wrapped.body_limit = kImportLimit;
    wrapped.body_to_dir = state.pool().path() + "/tmp";
    wrapped.json_body_limit = orig.body_limit;
    // The upload is unpacked while it arrives (never stored whole), under the tmp/ of the
    // pool it goes to: X-LXD-pool, else the default pool.
    wrapped.body_sink = [&state](const Request& req) -> Result<Route::BodySink> {
        std::string pool = req.header("x-lxd-pool");
        if (pool.empty()) pool = state.pool_name();
        auto p = state.pool(pool);
        if (!p) return http_error(400, "Storage pool \"" + pool.substr(0, 64) + "\" not found");
        LXM_TRY(auto s, core::StreamedImport::start(**p, pool));
        Route::BodySink sink;
        sink.fd = s->writer();
        sink.state = std::move(s);
        return sink;
    };
    wrapped.handler = [&api, &backups, orig](const Request& req) -> Result<Response> {
        std::string ct = req.header("content-type");
        if (!ct.starts_with("application/octet-stream")) {
            Request r2 = req;
            if (!req.body_file.empty()) {
                auto text = base::read_file(req.body_file, orig.body_limit);
                if (!text) return http_error(413, "request body too large or unreadable: " + text.error().message());
                r2.body = std::move(*text);
                r2.body_file.clear();
            }
            return orig.handler(r2);
        }
        if (req.body_state) {
            auto streamed = std::static_pointer_cast<core::StreamedImport>(req.body_state);
            LXM_TRY_VOID(streamed->finish(req.body_complete));
            auto name = backups.streamed_import_name(*streamed, req.header("x-lxd-name"));
            if (!name) {
                streamed->discard();  // before the answer: a client that looks finds nothing
                return std::unexpected(name.error());
            }
            OperationSpec spec;
            spec.description = "Creating instance from backup";
            spec.resources = {{"instances", {instance_url(*name)}}};
            // The operation holds the unpacked trees until it is done (then they are removed).
            spec.run = [&backups, streamed, name = *name, pool = req.header("x-lxd-pool")](OperationContext& c) mutable
                -> Result<void> {
                auto r = backups.import_streamed(*streamed, name, pool,
                                                 [&c](const json& patch) { c.update_metadata(patch); });
                streamed.reset();  // what is left of the upload goes now, not with the operation's record
                if (!r) return std::unexpected(r.error());
                return {};
            };
            LXM_TRY(auto op, api.operations().create(std::move(spec)));
            return Response::async(op->snapshot());
        }
        return http_error(400, "The backup file is missing");
    };
    api.router().add("POST", "/1.0/instances", std::move(wrapped));
}

}  // namespace lxm::api
