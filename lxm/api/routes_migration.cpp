// Migration routes (LXD-API.md §2.6), over core::Migration. The three modes of LXD:
//
//  pull (default):
//    source: POST /1.0/instances/<n> {migration: true, live, instance_only} → a websocket
//            operation whose metadata holds the secrets {control, fs}; its work waits for
//            the peer to connect both, then sends (core::Migration::send). Other bodies
//            (rename) go to the instance route as before.
//    target: POST /1.0/instances {name, source: {type: "migration", mode: "pull", operation:
//            "https://<source>/1.0/operations/<id>", secrets, certificate, refresh}} → an
//            operation that dials the source's websockets over TLS (the source's certificate
//            pinned as given, lxmd's own certificate presented) and receives. Other bodies go
//            to the route it wraps (instance creation, backup import).
//  push:
//    target: POST /1.0/instances {source: {type: "migration", mode: "push", refresh}} → a
//            websocket operation with secrets {control, fs}; it receives once they connect.
//    source: POST /1.0/instances/<n> {migration: true, target: {operation, secrets,
//            certificate}} → an operation that dials the target's websockets and sends.
//  relay: the source's operation as for pull, the target's as for push; the client connects
//            to both and copies the frames between them.
//
// A snapshot is sent as an instance of its own: POST /1.0/instances/<n>/snapshots/<s> {migration:
// true} is a source as above with that snapshot as the root and no other snapshot.
// The target's instance is the request's (config, devices, profiles, ephemeral, description;
// core::Migration::check_receive checks them as a create before any operation exists), the
// stream gives the trees and the snapshots with their own config.
//
// Every read and write on the streams gives up after core::Migration::idle_timeout() without
// progress (server side: bounded(); dialed side: WebSocketConn::set_timeout).
#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
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

// Blocking read/write on a server websocket that give up after `limit` without completing:
// the socket is then dropped (a peer behind a cut link would never answer) and timed_out
// returned.
template <class T, class Start>
Result<T> bounded(WebSocket& ws, std::chrono::milliseconds limit, const char* what, Start start) {
    auto p = std::make_shared<std::promise<Result<T>>>();
    auto f = p->get_future();
    start([p](Result<T> r) { p->set_value(std::move(r)); });
    if (f.wait_for(limit) == std::future_status::ready) return f.get();
    ws.abort();
    (void)f.wait_for(std::chrono::seconds(10));  // the aborted operation completes
    return base::make_error(std::errc::timed_out, std::string(what) + ": no progress for " +
                                                      std::to_string(limit.count() / 1000) + " s");
}

core::MigrationChannels server_channels(WebSocket control, WebSocket fs, std::chrono::milliseconds limit) {
    auto rd = [limit](WebSocket& ws, const char* what) {
        return bounded<WsMessage>(ws, limit, what, [&ws](auto done) { ws.async_read(std::move(done)); });
    };
    auto wr = [limit](WebSocket& ws, WsMessage m, const char* what) {
        return bounded<void>(ws, limit, what,
                             [&ws, &m](auto done) { ws.async_write(std::move(m), std::move(done)); });
    };
    core::MigrationChannels ch;
    ch.send_data = [fs, wr](std::string_view d) mutable -> Result<void> {
        if (d.empty()) return wr(fs, WsMessage{false, ""}, "migration stream");  // LXD's end-of-stream barrier
        return wr(fs, WsMessage{true, std::string(d)}, "migration stream");
    };
    ch.send_keepalive = [fs]() mutable { fs.async_write(WsMessage{true, ""}); };
    ch.recv_data = [fs, rd]() mutable -> Result<std::optional<std::string>> {
        LXM_TRY(WsMessage m, rd(fs, "migration stream"));
        if (!m.binary && m.data.empty()) return std::optional<std::string>();
        return std::optional<std::string>(std::move(m.data));
    };
    ch.send_control = [control, wr](const json& j) mutable {
        return wr(control, WsMessage{false, j.dump()}, "migration control");
    };
    ch.recv_control = [control, rd]() mutable -> Result<json> {
        LXM_TRY(WsMessage m, rd(control, "migration control"));
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
    std::mutex control_mu;  // the receiver's keepalives and its answers
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
    ch.send_keepalive = [&s] {
        std::lock_guard lk(s.control_mu);
        (void)s.control->write_text(core::Migration::keepalive_message().dump());
    };
    ch.send_control = [&s](const json& j) {
        std::lock_guard lk(s.control_mu);
        return s.control->write_text(j.dump());
    };
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
        return http_error(400, "The migration peer's operation must be an https:// URL (got \"" + url.substr(0, 64) + "\")");
    auto slash = url.find('/', 8);
    if (slash == std::string::npos) return http_error(400, "Bad migration operation URL");
    std::string path = url.substr(slash);
    if (!path.starts_with("/1.0/operations/")) return http_error(400, "Bad migration operation URL");
    return std::pair{url.substr(0, slash), path};
}

// The other lxmd's operation whose websockets this one dials (pull: the source's; push: the target's).
struct MigrationPeer {
    std::string address;  // "https://host:port"
    std::string path;     // "/1.0/operations/<id>"
    std::string fingerprint;
    std::string s_control, s_fs;
};

// From {operation, secrets, certificate} (a pull source or a push target); 400 when incomplete.
Result<MigrationPeer> parse_peer(const json& j, const char* role) {
    LXM_TRY(auto where, split_operation_url(j.value("operation", "")));
    json secrets = j.value("secrets", json::object());
    if (!secrets.is_object() || !secrets.contains("control") || !secrets.contains("fs") ||
        !secrets["control"].is_string() || !secrets["fs"].is_string())
        return http_error(400, std::string("The migration ") + role + " needs the secrets control and fs");
    std::string cert = j.value("certificate", "");
    if (cert.empty()) return http_error(400, std::string("The migration ") + role + "'s certificate is needed (it is pinned)");
    auto fp = base::cert_fingerprint(cert);
    if (!fp) return http_error(400, std::string("Bad migration ") + role + " certificate: " + fp.error().message());
    return MigrationPeer{where.first, where.second, *fp, secrets["control"].get<std::string>(), secrets["fs"].get<std::string>()};
}

// Connect both websockets of the peer's operation over TLS (lxmd's own certificate presented,
// the peer's pinned); bounded by the migration timeout.
Result<std::unique_ptr<ClientStreams>> dial(const base::CertKey& identity, const MigrationPeer& peer) {
    client::Client::TlsConfig tc;
    tc.address = peer.address;
    tc.client_cert_pem = identity.cert_pem;
    tc.client_key_pem = identity.key_pem;
    tc.server_fingerprint = peer.fingerprint;
    auto conn = client::Client::connect_tls(tc);
    if (!conn) return std::unexpected(base::wrap(conn.error(), "connect to the migration peer " + peer.address));
    auto s = std::make_unique<ClientStreams>(std::move(*conn), nullptr, nullptr);
    auto c = s->conn.websocket(peer.path + "/websocket?secret=" + peer.s_control);
    if (!c) return std::unexpected(base::wrap(c.error(), "migration control websocket"));
    s->control = std::make_unique<client::WebSocketConn>(std::move(*c));
    auto f = s->conn.websocket(peer.path + "/websocket?secret=" + peer.s_fs);
    if (!f) return std::unexpected(base::wrap(f.error(), "migration fs websocket"));
    s->fs = std::make_unique<client::WebSocketConn>(std::move(*f));
    s->control->set_timeout(core::Migration::idle_timeout());
    s->fs->set_timeout(core::Migration::idle_timeout());
    return s;
}

void end_dialed(ClientStreams& s, bool ok) {
    if (!ok) {
        // The peer may be unreachable: do not wait long for its side of the close.
        s.control->set_timeout(std::chrono::seconds(1));
        s.fs->set_timeout(std::chrono::seconds(1));
    }
    s.control->close();
    s.fs->close();
}

// A websocket operation offering {control, fs} (pull source, push target): `work` runs with
// both once the peer (or a relaying client) connected them. A cancel drops both sockets, so a
// blocked send or wait ends at once.
OperationSpec offering_spec(std::string description, const std::string& name,
                            std::function<Result<void>(OperationContext&, const core::MigrationChannels&)> work) {
    std::string s_control = Operations::random_secret(), s_fs = Operations::random_secret();
    OperationSpec spec;
    spec.op_class = OperationClass::websocket;
    spec.description = std::move(description);
    spec.resources = {{"instances", {instance_url(name)}}};
    spec.metadata = json{{"control", s_control}, {"fs", s_fs}};
    spec.websockets = {{s_control, "control"}, {s_fs, "fs"}};
    spec.may_cancel = true;
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
    spec.run = [work = std::move(work), held, name](OperationContext& ctx) -> Result<void> {
        LXM_TRY(auto socks, ctx.wait_websockets({"control", "fs"}, kConnectWait));
        WebSocket control = socks["control"], fs = socks["fs"];
        {
            std::lock_guard lk(held->mu);
            held->socks = {control, fs};
            if (held->cancelled) return base::make_error(std::errc::operation_canceled, "migration cancelled");
        }
        auto r = work(ctx, server_channels(control, fs, core::Migration::idle_timeout()));
        if (!r) {
            LXM_WARN("migration of {}: {}", name, r.error().message());
            control.abort();
            fs.abort();
        } else {
            control.close();
            fs.close();
        }
        return r;
    };
    return spec;
}

// The instance fields of the request (config, devices, profiles, ephemeral, description) that
// it gives: they make the new instance (core::MigrationReceiveOptions); null or absent = the stream's.
Result<void> request_fields(const json& body, core::MigrationReceiveOptions& o) {
    auto given = [&](const char* k) { return body.contains(k) && !body[k].is_null(); };
    try {
        if (given("config")) o.config = body["config"].get<core::ConfigMap>();
        if (given("devices")) o.devices = body["devices"].get<core::DeviceMap>();
        if (given("profiles")) o.profiles = body["profiles"].get<std::vector<std::string>>();
        if (given("ephemeral")) o.ephemeral = body["ephemeral"].get<bool>();
        if (given("description")) o.description = body["description"].get<std::string>();
    } catch (const std::exception& e) {
        return http_error(400, std::string("Bad instance fields in the migration request: ") + e.what());
    }
    return {};
}

}  // namespace

void register_migration_routes(Api& api, core::Migration& migration, const base::CertKey& identity) {
    for (const char* e : {"container_only_migration", "container_incremental_copy", "container_push",
                          "container_push_target"}) {
        auto& ex = api.server_info().extensions;
        if (std::find(ex.begin(), ex.end(), e) == ex.end()) ex.push_back(e);
    }

    // ---- source ----
    // The instance, or one of its snapshots sent as an instance of its own (lxc copy c1/snap h1:c2:
    // POST /1.0/instances/c1/snapshots/snap {migration: true}; no other snapshot travels).
    for (bool of_snapshot : {false, true}) {
        const char* pattern = of_snapshot ? "/1.0/instances/{name}/snapshots/{snap}" : "/1.0/instances/{name}";
        auto ms = api.router().match("POST", of_snapshot ? "/1.0/instances/x/snapshots/y" : "/1.0/instances/x");
        if (!ms || !ms->route) {
            LXM_ERROR("migration routes: POST {} is not registered", pattern);
            return;
        }
        Route orig_src = *ms->route;
        Route src = orig_src;
        src.handler = [&api, &migration, &identity, orig_src, of_snapshot](const Request& req) -> Result<Response> {
            LXM_TRY(json body, body_json(req, 1 << 20));
            if (!body.is_object() || !body.value("migration", false)) return orig_src.handler(req);
            const std::string name = req.param("name");
            core::MigrationSendOptions o;
            o.instance_only = body.value("instance_only", false) || body.value("container_only", false);
            if (of_snapshot) {
                o.snapshot = req.param("snap");
                LXM_TRY_VOID(migration.check_source_snapshot(name, o.snapshot));  // 404
            }
            // A snapshot is never running: nothing to checkpoint.
            LXM_TRY_VOID(migration.check_source(name, !of_snapshot && body.value("live", false)));
            auto progress = [](OperationContext& ctx) { return [&ctx](const json& p) { ctx.update_metadata(p); }; };

            if (body.contains("target") && body["target"].is_object() && !body["target"].empty()) {
                // Push: this lxmd dials the target's operation and sends.
                LXM_TRY(MigrationPeer peer, parse_peer(body["target"], "target"));
                OperationSpec spec;
                spec.description = "Migrating instance";
                spec.resources = {{"instances", {instance_url(name)}}};
                spec.run = [&migration, &identity, name, o, peer, progress](OperationContext& ctx) -> Result<void> {
                    LXM_TRY(auto s, dial(identity, peer));
                    core::MigrationSendOptions so = o;
                    so.id = ctx.id();
                    auto r = migration.send(name, so, client_channels(*s), progress(ctx));
                    if (!r) LXM_WARN("migration of {} (push source): {}", name, r.error().message());
                    end_dialed(*s, bool(r));
                    return r;
                };
                LXM_TRY(auto op, api.operations().create(std::move(spec)));
                return Response::async(op->snapshot());
            }
            // Pull (and relay): the target (or the client) connects to this operation's websockets.
            auto spec = offering_spec("Migrating instance", name,
                                      [&migration, name, o, progress](OperationContext& ctx,
                                                                      const core::MigrationChannels& ch) {
                                          core::MigrationSendOptions so = o;
                                          so.id = ctx.id();
                                          return migration.send(name, so, ch, progress(ctx));
                                      });
            LXM_TRY(auto op, api.operations().create(std::move(spec)));
            return Response::async(op->snapshot());
        };
        api.router().add("POST", pattern, std::move(src));
    }

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
        if (mode != "pull" && mode != "push")
            return http_error(400, "Unknown migration mode \"" + mode.substr(0, 16) + "\" (pull or push)");
        if (source.value("live", false))
            return http_error(400, "Live migration is not possible: " + core::Migration::criu_problem());
        core::MigrationReceiveOptions o;
        o.name = body.value("name", "");
        o.refresh = source.value("refresh", false) == true;
        // 400 bad name, 409 taken (refresh: 400 running): before any operation
        LXM_TRY_VOID(migration.check_target(o.name, o.refresh));
        LXM_TRY_VOID(request_fields(body, o));
        // As a create: 400 for a bad key or device, an unknown profile or pool; the pool settled.
        LXM_TRY_VOID(migration.check_receive(o));
        auto progress = [](OperationContext& ctx) { return [&ctx](const json& p) { ctx.update_metadata(p); }; };

        if (mode == "push") {
            // Push (and relay): the source (or the client) connects to this operation's websockets.
            auto spec = offering_spec("Creating instance", o.name,
                                      [&migration, o, progress](OperationContext& ctx, const core::MigrationChannels& ch) {
                                          return migration.receive(o, ch, progress(ctx));
                                      });
            LXM_TRY(auto op, api.operations().create(std::move(spec)));
            return Response::async(op->snapshot());
        }
        // Pull: this lxmd dials the source's operation.
        LXM_TRY(MigrationPeer peer, parse_peer(source, "source"));
        OperationSpec spec;
        spec.description = "Creating instance";
        spec.resources = {{"instances", {instance_url(o.name)}}};
        spec.run = [&migration, &identity, o, peer, progress](OperationContext& ctx) -> Result<void> {
            LXM_TRY(auto s, dial(identity, peer));
            auto r = migration.receive(o, client_channels(*s), progress(ctx));
            if (!r) LXM_WARN("migration into {} (target): {}", o.name, r.error().message());
            end_dialed(*s, bool(r));
            return r;
        };
        LXM_TRY(auto op, api.operations().create(std::move(spec)));
        return Response::async(op->snapshot());
    };
    api.router().add("POST", "/1.0/instances", std::move(tgt));
}

}  // namespace lxm::api
