// lxm copy / lxm move between two servers (LXD-API.md §2.6), as `lxc` does it (pull mode):
//
//   1. source: GET /1.0 (environment.addresses, environment.certificate), GET the instance;
//      the request's instance is the source's writable fields with the user's overrides
//      (copy_fields: -c, -d, -p, --no-profiles, -s, -e), which the target applies;
//   2. move of a running instance (stateless): stop it first (and start it again if anything fails);
//   3. source: POST /1.0/instances/SRC {migration: true, live, instance_only} → an operation
//      whose metadata holds the secrets {control, fs};
//   4. target: POST /1.0/instances {name, config, devices, profiles, ephemeral, description,
//      source: {type: migration, mode: pull, operation: https://<source address>/1.0/operations/<id>,
//      secrets, certificate}} (400 for a bad key or an unknown profile: the source's offer is cancelled);
//   5. wait for the target's operation, then the source's. The target's success is authoritative
//      (as in lxc, which waits on the target's operation alone): the target succeeds only after
//      it read the whole stream and committed the instance, so a source operation that fails
//      after that (the link cut after the target's confirmation, before the source read it) is
//      reported as a warning and changes nothing;
//   6. move: DELETE the source only now (the target confirmed), and start the new one if the old ran.
//
// --mode push: the target's request goes first (source.mode push: it offers the websockets), then
// the source's with target: {operation, secrets, certificate}: the source dials the target, which
// must listen on the network. --mode relay: both offer; this client connects to the four
// websockets and copies the frames between them (client::WebSocketConn::relay), so neither
// server needs to reach the other. In both the target refuses a bad request before the source
// is asked for anything.
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "lxm/base/defer.hpp"
#include "lxm/cli/commands.hpp"

namespace lxm::cli {

namespace {

struct Side {
    std::string arg;  // instance name without remote
    std::unique_ptr<Context> ctx;
};

base::Result<Side> side(Context& base_ctx, std::string arg) {
    Side s;
    s.ctx = std::make_unique<Context>(base_ctx.socket());
    LXM_TRY_VOID(s.ctx->take_remote(arg));
    s.arg = std::move(arg);
    return s;
}

std::string op_id(const std::string& op_url) {
    auto p = op_url.rfind('/');
    return p == std::string::npos ? op_url : op_url.substr(p + 1);
}

struct Endpoint {
    std::string address;      // "host:port", the first of environment.addresses
    std::string certificate;  // PEM, pinned by the server that dials it
};

// Where the other server dials this one (GET /1.0): pull dials the source, push the target.
base::Result<Endpoint> listening(client::Client& c, const std::string& role) {
    LXM_TRY(json server, c.get("/1.0"));
    json env = server.value("environment", json::object());
    Endpoint e;
    e.certificate = env.value("certificate", "");
    if (env.contains("addresses") && env["addresses"].is_array())
        for (const auto& a : env["addresses"])
            if (a.is_string() && e.address.empty()) e.address = a.get<std::string>();
    if (e.address.empty())
        return user_error("The " + role + " server isn't listening on the network (set core.https_address there)");
    if (e.certificate.empty()) return user_error("The " + role + " server did not send its certificate");
    return e;
}

json op_secrets(const client::Response& r) {
    json m = r.metadata.is_object() ? r.metadata.value("metadata", json::object()) : json::object();
    return m.is_object() && m.contains("control") && m.contains("fs") ? m : json();
}

// The migration's two operations (and in relay mode the threads copying frames between
// their websockets, joined when it goes: the servers close the sockets when they end).
struct Transfer {
    client::Response sop, top;
    std::vector<std::unique_ptr<client::WebSocketConn>> socks;
    std::vector<std::thread> relays;
    Transfer() = default;
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;
    ~Transfer() {
        for (auto& t : relays)
            if (t.joinable()) t.join();
    }
};

// Starts both operations in the given mode (LXD's three):
//   pull:  source offers websockets, the target dials them (the source must listen on the network);
//   push:  target offers, the source dials them (the target must listen);
//   relay: both offer, this client connects to the four websockets and copies the frames.
// The target's request goes first where it can (push, relay): a refused instance (bad key,
// unknown profile, taken name) then costs the source nothing. A failure cancels what was started.
base::Result<void> start_transfer(client::Client& sc, client::Client& dc, const std::string& src_url, json sreq,
                                  json treq, const std::string& mode, Transfer& t) {
    json& tsrc = treq["source"];
    tsrc["mode"] = mode == "pull" ? "pull" : "push";
    if (mode == "pull") {
        LXM_TRY(Endpoint se, listening(sc, "source"));
        LXM_TRY(t.sop, sc.post(src_url, sreq));
        json secrets = op_secrets(t.sop);
        if (secrets.is_null()) {
            (void)sc.del(t.sop.operation);
            return user_error("the source did not offer a migration (no control/fs secrets)");
        }
        tsrc["operation"] = "https://" + se.address + "/1.0/operations/" + op_id(t.sop.operation);
        tsrc["secrets"] = secrets;
        tsrc["certificate"] = se.certificate;
        auto top = dc.post("/1.0/instances", treq);
        if (!top) {
            (void)sc.del(t.sop.operation);  // cancel the source's offer
            return std::unexpected(top.error());
        }
        t.top = std::move(*top);
        return {};
    }
    std::optional<Endpoint> de;
    if (mode == "push") {
        LXM_TRY(de, listening(dc, "target"));
    }
    LXM_TRY(t.top, dc.post("/1.0/instances", treq));
    json tsecrets = op_secrets(t.top);
    if (tsecrets.is_null()) {
        (void)dc.del(t.top.operation);
        return user_error("the target did not offer a migration (no control/fs secrets)");
    }
    if (de)
        sreq["target"] = {{"operation", "https://" + de->address + "/1.0/operations/" + op_id(t.top.operation)},
                          {"secrets", tsecrets},
                          {"certificate", de->certificate}};
    auto sop = sc.post(src_url, sreq);
    if (!sop) {
        (void)dc.del(t.top.operation);
        return std::unexpected(sop.error());
    }
    t.sop = std::move(*sop);
    if (mode == "push") return {};
    json ssecrets = op_secrets(t.sop);
    auto connect = [&]() -> base::Result<void> {
        if (ssecrets.is_null()) return user_error("the source did not offer a migration (no control/fs secrets)");
        for (const char* ch : {"control", "fs"}) {
            LXM_TRY(auto a, sc.websocket(t.sop.operation + "/websocket?secret=" + ssecrets[ch].get<std::string>()));
            t.socks.push_back(std::make_unique<client::WebSocketConn>(std::move(a)));
            LXM_TRY(auto b, dc.websocket(t.top.operation + "/websocket?secret=" + tsecrets[ch].get<std::string>()));
            t.socks.push_back(std::make_unique<client::WebSocketConn>(std::move(b)));
        }
        return {};
    };
    if (auto r = connect(); !r) {
        (void)sc.del(t.sop.operation);
        (void)dc.del(t.top.operation);
        return std::unexpected(r.error());
    }
    for (size_t i = 0; i + 1 < t.socks.size(); i += 2)
        t.relays.emplace_back([a = t.socks[i].get(), b = t.socks[i + 1].get()] {
            (void)client::WebSocketConn::relay(*a, *b);  // the operations' results tell what happened
        });
    return {};
}

}  // namespace

base::Result<json> copy_fields(Context& dst, const json& inst, const CopyOverrides& o) {
    json config = inst.value("config", json::object());
    if (!config.is_object()) config = json::object();
    // The source's volatile state is its own (lxc keeps only the base image as information).
    for (auto it = config.begin(); it != config.end();) {
        if (it.key().starts_with("volatile.") && it.key() != "volatile.base_image") it = config.erase(it);
        else ++it;
    }
    LXM_TRY(json extra, key_values(o.config));
    for (auto& [k, v] : extra.items()) config[k] = v;

    json profiles = inst.value("profiles", json::array());
    if (!profiles.is_array()) profiles = json::array();
    if (o.no_profiles) profiles = json::array();
    else if (!o.profiles.empty()) profiles = o.profiles;

    json devices = inst.value("devices", json::object());
    if (!devices.is_object()) devices = json::object();
    json profile_devices = json::object();  // read only when an override names a device of the profiles
    bool expanded = false;
    for (const auto& d : o.devices) {
        auto comma = d.find(',');
        auto eq = d.find('=', comma == std::string::npos ? 0 : comma);
        if (comma == std::string::npos || comma == 0 || eq == std::string::npos || eq == comma + 1)
            return user_error("Bad device override \"" + d + "\": expecting <device>,<key>=<value>");
        std::string dev = d.substr(0, comma), key = d.substr(comma + 1, eq - comma - 1), value = d.substr(eq + 1);
        if (!devices.contains(dev)) {
            if (!expanded) {
                // As lxc: the device comes from the target's profiles, copied into the instance.
                LXM_TRY(auto* c, dst.client());
                for (const auto& p : profiles) {
                    LXM_TRY(json prof, c->get("/1.0/profiles/" + url_escape(p.get<std::string>())));
                    json pdevs = prof.value("devices", json::object());
                    for (auto& [dn, dv] : pdevs.items()) profile_devices[dn] = dv;
                }
                expanded = true;
            }
            if (!profile_devices.contains(dev))
                return user_error("Cannot override config for device \"" + dev +
                                  "\": Device not found in the instance's or its profiles' devices");
            devices[dev] = profile_devices[dev];
        }
        devices[dev][key] = value;
    }
    if (!o.storage.empty()) {
        // As lxc -s: the copy's own root disk (the source's, or a new one) names the pool.
        bool placed = false;
        for (auto& [dn, d] : devices.items())
            if (d.value("type", "") == "disk" && d.value("path", "") == "/") {
                d["pool"] = o.storage;
                placed = true;
            }
        if (!placed) devices["root"] = {{"type", "disk"}, {"path", "/"}, {"pool", o.storage}};
    }
    return json{{"config", config},
                {"devices", devices},
                {"profiles", profiles},
                {"ephemeral", o.ephemeral.value_or(inst.value("ephemeral", false))},
                {"description", inst.value("description", "")}};
}

base::Result<bool> is_cross_remote(Context& ctx, const std::string& a, const std::string& b) {
    LXM_TRY(Side sa, side(ctx, a));
    LXM_TRY(Side sb, side(ctx, b));
    return sa.ctx->remote() != sb.ctx->remote();
}

base::Result<int> remote_copy(Context& ctx, const std::string& source, const std::string& target,
                              const RemoteCopyOptions& o) {
    LXM_TRY(Side src, side(ctx, source));
    LXM_TRY(Side dst, side(ctx, target));
    if (src.arg.empty()) return user_error("the source instance is missing");
    if (o.mode != "pull" && o.mode != "push" && o.mode != "relay")
        return user_error("--mode is one of pull, push or relay (not \"" + o.mode + "\")");
    // A snapshot becomes an instance of its own there (the source sends that snapshot alone).
    const bool of_snapshot = src.arg.find('/') != std::string::npos;
    if (of_snapshot && o.move) return user_error("a snapshot cannot move to another server: copy it");
    if (of_snapshot && o.refresh) return user_error("--refresh can only be used with instances");
    if (of_snapshot && o.instance_only) return user_error("--instance-only can't be passed when the source is a snapshot");
    std::string dst_name = dst.arg.empty() ? src.arg.substr(0, src.arg.find('/')) : dst.arg;
    if (dst_name.find('/') != std::string::npos) return user_error("the target must be an instance name");
    LXM_TRY(auto* sc, src.ctx->client());
    LXM_TRY(auto* dc, dst.ctx->client());

    LXM_TRY(json inst, get_instance(*src.ctx, src.arg));
    if (!o.over.storage.empty()) {
        // The target would put the root elsewhere without a word (LXD's fallback for a pool it lacks).
        auto pool = dc->get("/1.0/storage-pools/" + url_escape(o.over.storage));
        if (!pool) return user_error("Storage pool \"" + o.over.storage + "\" not found on the target: " + error_text(pool.error()));
    }
    LXM_TRY(json fields, copy_fields(*dst.ctx, inst, o.over));
    bool running = inst.value("status", "") == "Running";
    bool restart_source = false;
    if (o.move && running && !o.live) {
        LXM_TRY_VOID(change_state(*src.ctx, src.arg, "stop", -1, false));
        restart_source = true;
    }
    base::Defer restart([&] {
        if (restart_source) (void)change_state(*src.ctx, src.arg, "start", 0, false);
    });

    json sreq{{"name", of_snapshot ? dst_name : src.arg},
              {"migration", true},
              {"live", o.live && running},
              {"instance_only", o.instance_only},
              {"container_only", o.instance_only}};
    json treq{{"name", dst_name},
              {"type", "container"},
              {"architecture", inst.value("architecture", "")},
              {"source",
               {{"type", "migration"},
                {"live", o.live && running},
                {"instance_only", o.instance_only},
                {"container_only", o.instance_only},
                {"refresh", o.refresh}}}};
    treq.update(fields);
    Transfer t;
    LXM_TRY_VOID(start_transfer(*sc, *dc, instance_url(src.arg), sreq, treq, o.mode, t));
    auto tdone = dst.ctx->wait(t.top);
    if (!tdone) {
        (void)sc->del(t.sop.operation);  // the source stops sending; its instance was never changed
        (void)sc->wait_operation(t.sop.operation, 30);
        return std::unexpected(tdone.error());
    }
    if (auto sdone = src.ctx->wait(t.sop); !sdone)
        std::fprintf(stderr,
                     "Warning: the target has the complete instance, but the source's migration operation "
                     "failed after it: %s\n",
                     sdone.error().message().c_str());

    if (o.move) {
        // The target has the instance: only now does the source go.
        LXM_TRY_VOID(src.ctx->run("DELETE", instance_url(src.arg)));
        restart_source = false;
        if (running && !o.live) LXM_TRY_VOID(change_state(*dst.ctx, dst_name, "start", 0, false));
    }
    return 0;
}

}  // namespace lxm::cli
