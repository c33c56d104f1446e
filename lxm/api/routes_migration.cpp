// Migration routes (LXD-API.md §2.6), over core::Migration:
//
//  source: POST /1.0/instances/<n> {migration: true, live, instance_only} → a websocket
//          operation whose metadata holds the secrets {control, fs}; its work waits for
//          the target to connect both, then sends (core::Migration::send). Other bodies
//          (rename) go to the instance route as before.
//  target: POST /1.0/instances {name, source: {type: "migration", mode: "pull", operation:
//          "https://<source>/1.0/operations/<id>", secrets, certificate}} → an operation that
//          dials the source's websockets over TLS (the source's certificate pinned as given,
//          lxmd's own certificate presented) and receives (core::Migration::receive).
//          Other bodies go to the route it wraps (instance creation, backup import).
#include <algorithm>
#include <chrono>
#include <mutex>
#include <vector>

#include "lxm/api/migration_routes.hpp"
#include "lxm/api/operations.hpp"
#include "lxm/api/router.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/base/x509.hpp"
#include "lxm/client/client.hpp"
#include "lxm/core/names.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {

constexpr auto kConnectWait = std::chrono::seconds(60);

std::string instance_url(const std::string& name) { return "/1.0/instances/" + url_encode(name); }

// The JSON body of a wrapped route whose body may have been streamed to a file.
Result<json> body_json(const Request& req, size_t limit) {
    if (!req.body_file.empty()) {
        auto text = base::read_file(req.body_file, limit);
        if (!text) return http_error(413, "request body too large or unreadable");
        if (text->empty()) return json::object();
        try {
            return json::parse(*text);
        } catch (const std::exception& e) {
            return http_error(400, std::string("failed to parse request body: ") + e.what());
        }
    }
    return req.json_body();
}

core::MigrationChannels server_channels(WebSocket control, WebSocket fs) {
    core::MigrationChannels ch;
    ch.send_data = [fs](std::string_view d) mutable -> Result<void> {
        if (d.empty()) return fs.write(WsMessage{false, ""});  // LXD's end-of-stream barrier
        return fs.write(WsMessage{true, std::string(d)});
    };
    ch.recv_data = [fs]() mutable -> Result<std::optional<std::string>> {
        LXM_TRY(WsMessage m, fs.read());
        if (!m.binary && m.data.empty()) return std::optional<std::string>();
        return std::optional<std::string>(std::move(m.data));
    };
    ch.send_control = [control](const json& j) mutable { return control.write(WsMessage{false, j.dump()}); };
    ch.recv_control = [control]() mutable -> Result<json> {
        LXM_TRY(WsMessage m, control.read());
        try {
            return json::parse(m.data);
        } catch (const std::exception& e) {
            return base::make_error(std::errc::protocol_error, std::string("bad control message: ") + e.what());
        }
    };
    return ch;
}

struct ClientStreams {
    client::Client conn;
    std::unique_ptr<client::WebSocketConn> control, fs;
};

core::MigrationChannels client_channels(ClientStreams& s) {
    core::MigrationChannels ch;
    ch.send_data = [&s](std::string_view d) -> Result<void> {
        if (d.empty()) return s.fs->write(client::WsFrame{false, ""});
        return s.fs->write(client::WsFrame{true, std::string(d)});
    };
    ch.recv_data = [&s]() -> Result<std::optional<std::string>> {
        LXM_TRY(client::WsFrame f, s.fs->read());
        if (!f.binary && f.data.empty()) return std::optional<std::string>();
        return std::optional<std::string>(std::move(f.data));
    };
    ch.send_control = [&s](const json& j) { return s.control->write_text(j.dump()); };
    ch.recv_control = [&s]() -> Result<json> {
        LXM_TRY(client::WsFrame f, s.control->read());
        try {
            return json::parse(f.data);
        } catch (const std::exception& e) {
            return base::make_error(std::errc::protocol_error, std::string("bad control message: ") + e.what());
        }
    };
    return ch;
}

// "https://host:port/1.0/operations/<id>" → ("https://host:port", "/1.0/operations/<id>").
Result<std::pair<std::string, std::string>> split_operation_url(const std::string& url) {
    if (!url.starts_with("https://"))
        return http_error(400, "The migration source operation must be an https:// URL (got \"" + url.substr(0, 64) + "\")");
    auto slash = url.find('/', 8);
    if (slash == std::string::npos) return http_error(400, "Bad migration source operation URL");
    std::string path = url.substr(slash);
    if (!path.starts_with("/1.0/operations/")) return http_error(400, "Bad migration source operation URL");
    return std::pair{url.substr(0, slash), path};
}

}  // namespace

void register_migration_routes(Api& api, core::Migration& migration, const base::CertKey& identity) {
    for (const char* e : {"container_only_migration"}) {
        auto& ex = api.server_info().extensions;
        if (std::find(ex.begin(), ex.end(), e) == ex.end()) ex.push_back(e);
    }

    // ---- source ----
    auto ms = api.router().match("POST", "/1.0/instances/x");
    if (!ms || !ms->route) {
        LXM_ERROR("migration routes: POST /1.0/instances/{{name}} is not registered");
        return;
    }
    Route orig_src = *ms->route;
    Route src = orig_src;
    src.handler = [&api, &migration, orig_src](const Request& req) -> Result<Response> {
        LXM_TRY(json body, body_json(req, 1 << 20));
        if (!body.is_object() || !body.value("migration", false)) return orig_src.handler(req);
        const std::string name = req.param("name");
        bool live = body.value("live", false);
        bool instance_only = body.value("instance_only", false) || body.value("container_only", false);
        if (body.contains("target") && body["target"].is_object() && !body["target"].empty())
            return http_error(501, "Push migration (source dials the target) is not implemented: use pull (the default)");
        LXM_TRY_VOID(migration.check_source(name, live));
        std::string s_control = Operations::random_secret(), s_fs = Operations::random_secret();
        OperationSpec spec;
        spec.op_class = OperationClass::websocket;
        spec.description = "Migrating instance";
        spec.resources = {{"instances", {instance_url(name)}}};
        spec.metadata = json{{"control", s_control}, {"fs", s_fs}};
        spec.websockets = {{s_control, "control"}, {s_fs, "fs"}};
        spec.may_cancel = true;
        // A cancel (the client gave up, the target failed) drops both sockets: a blocked send or
        // wait for the target's answer ends at once.
        struct Held {
            std::mutex mu;
            std::vector<WebSocket> socks;
            bool cancelled = false;
        };
        auto held = std::make_shared<Held>();
        spec.on_cancel = [held] {
            std::lock_guard lk(held->mu);
            held->cancelled = true;
            for (auto& w : held->socks) w.abort();
        };
        spec.run = [&migration, name, instance_only, held](OperationContext& ctx) -> Result<void> {
            LXM_TRY(auto socks, ctx.wait_websockets({"control", "fs"}, kConnectWait));
            WebSocket control = socks["control"], fs = socks["fs"];
            {
                std::lock_guard lk(held->mu);
                held->socks = {control, fs};
                if (held->cancelled) return base::make_error(std::errc::operation_canceled, "migration cancelled");
            }
            core::MigrationSendOptions o;
            o.instance_only = instance_only;
            o.id = ctx.id();
            auto r = migration.send(name, o, server_channels(control, fs),
                                    [&ctx](const json& p) { ctx.update_metadata(p); });
            if (!r) LXM_WARN("migration of {} (source): {}", name, r.error().message());
            control.close();
            fs.close();
            return r;
        };
        LXM_TRY(auto op, api.operations().create(std::move(spec)));
        return Response::async(op->snapshot());
    };
    api.router().add("POST", "/1.0/instances/{name}", std::move(src));

    // ---- target ----
    auto mt = api.router().match("POST", "/1.0/instances");
    if (!mt || !mt->route) {
        LXM_ERROR("migration routes: POST /1.0/instances is not registered");
        return;
    }
    Route orig_tgt = *mt->route;
    Route tgt = orig_tgt;
    tgt.handler = [&api, &migration, &identity, orig_tgt](const Request& req) -> Result<Response> {
        if (req.header("content-type").starts_with("application/octet-stream")) return orig_tgt.handler(req);
        LXM_TRY(json body, body_json(req, 1 << 20));
        if (!body.is_object() || !body.contains("source") || !body["source"].is_object() ||
            body["source"].value("type", "") != "migration")
            return orig_tgt.handler(req);
        const json& source = body["source"];
        std::string mode = source.value("mode", "pull");
        if (mode != "pull")
            return http_error(501, "Migration mode \"" + mode.substr(0, 16) + "\" is not implemented: use pull");
        if (source.value("live", false))
            return http_error(400, "Live migration is not possible: " + core::Migration::criu_problem());
        if (source.value("refresh", false))
            return http_error(501, "Incremental copies (--refresh) are not implemented yet");
        core::MigrationReceiveOptions o;
        o.name = body.value("name", "");
        LXM_TRY_VOID(migration.check_target(o.name));  // 400 bad name, 409 taken: before any operation
        if (body.contains("devices") && body["devices"].is_object())
            for (auto& [k, d] : body["devices"].items())
                if (d.is_object() && d.value("type", "") == "disk" && d.value("path", "") == "/")
                    o.pool = d.value("pool", "");
        LXM_TRY(auto where, split_operation_url(source.value("operation", "")));
        json secrets = source.value("secrets", json::object());
        if (!secrets.is_object() || !secrets.contains("control") || !secrets.contains("fs"))
            return http_error(400, "The migration source needs the secrets control and fs");
        std::string cert = source.value("certificate", "");
        if (cert.empty()) return http_error(400, "The migration source's certificate is needed (it is pinned)");
        auto fp = base::cert_fingerprint(cert);
        if (!fp) return http_error(400, "Bad migration source certificate: " + fp.error().message());
        std::string s_control = secrets["control"].get<std::string>(), s_fs = secrets["fs"].get<std::string>();

        OperationSpec spec;
        spec.description = "Creating instance";
        spec.resources = {{"instances", {instance_url(o.name)}}};
        spec.run = [&migration, &identity, o, where, fp = *fp, s_control, s_fs](OperationContext& ctx) -> Result<void> {
            client::Client::TlsConfig tc;
            tc.address = where.first;
            tc.client_cert_pem = identity.cert_pem;
            tc.client_key_pem = identity.key_pem;
            tc.server_fingerprint = fp;
            auto conn = client::Client::connect_tls(tc);
            if (!conn) return std::unexpected(base::wrap(conn.error(), "connect to the migration source " + where.first));
            ClientStreams s{std::move(*conn), nullptr, nullptr};
            auto c = s.conn.websocket(where.second + "/websocket?secret=" + s_control);
            if (!c) return std::unexpected(base::wrap(c.error(), "migration control websocket"));
            s.control = std::make_unique<client::WebSocketConn>(std::move(*c));
            auto f = s.conn.websocket(where.second + "/websocket?secret=" + s_fs);
            if (!f) return std::unexpected(base::wrap(f.error(), "migration fs websocket"));
            s.fs = std::make_unique<client::WebSocketConn>(std::move(*f));
            auto r = migration.receive(o, client_channels(s), [&ctx](const json& p) { ctx.update_metadata(p); });
            if (!r) LXM_WARN("migration into {} (target): {}", o.name, r.error().message());
            s.control->close();
            s.fs->close();
            return r;
        };
        LXM_TRY(auto op, api.operations().create(std::move(spec)));
        return Response::async(op->snapshot());
    };
    api.router().add("POST", "/1.0/instances", std::move(tgt));
}

}  // namespace lxm::api
