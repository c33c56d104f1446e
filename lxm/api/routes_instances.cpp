// /1.0/instances: list, create, get, update, rename, delete, state,
// snapshots (take, list, get, rename, delete; restore through PUT) and backups ([]).
#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/instance.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/names.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {

std::string instance_url(const std::string& name) { return "/1.0/instances/" + url_encode(name); }
std::string snapshot_url(const std::string& name, const std::string& snap) {
    return instance_url(name) + "/snapshots/" + url_encode(snap);
}

void add(Api& api, std::string_view method, std::string_view pattern, Handler h, bool blocking = true,
         size_t limit = kJsonBodyLimit) {
    Route r;
    r.handler = std::move(h);
    r.blocking = blocking;
    r.body_limit = limit;
    api.router().add(method, pattern, std::move(r));
}

OperationSpec task(std::string description, const std::string& name) {
    OperationSpec s;
    s.description = std::move(description);
    s.resources = {{"instances", {instance_url(name)}}};
    return s;
}

Result<Response> start_op(Api& api, OperationSpec spec) {
    LXM_TRY(auto op, api.operations().create(std::move(spec)));
    return Response::async(op->snapshot());
}

// The instance as the client's URL space shows it, filtered.
json instance_json(const apitypes::Instance& i) { return json(i); }

}  // namespace

void register_instance_routes(Api& api, DaemonRoutes& ctx) {
    auto& inst = ctx.instances;

    add(api, "GET", "/1.0/instances", [&inst](const Request& req) -> Result<Response> {
        int rec = req.recursion();
        if (rec <= 0 && !req.filter) {
            LXM_TRY(auto names, inst.names());
            json out = json::array();
            for (const auto& n : names) out.push_back(req.url(instance_url(n)));
            return Response::sync(out);
        }
        LXM_TRY(auto list, inst.list(rec >= 2));
        // Serialized one instance at a time straight into the body (no tree of the whole list,
        // no string per instance): thousands of instances are megabytes.
        std::string out = "[";
        out.reserve(list.size() * (rec >= 2 ? 1024 : 768));
        nlohmann::detail::serializer<json> ser(nlohmann::detail::output_adapter<char>(out), ' ');
        for (const auto& i : list) {
            json j = instance_json(i);
            if (req.filter && !req.filter->matches(j)) continue;
            if (out.size() > 1) out += ',';
            if (rec <= 0) ser.dump(json(req.url(instance_url(i.name))), false, false, 0);
            else ser.dump(j, false, false, 0);
        }
        out += ']';
        return Response::sync_dumped(out);
    });

    add(api, "POST", "/1.0/instances", [&api, &inst](const Request& req) -> Result<Response> {
        LXM_TRY(auto post, req.body_as<apitypes::InstancesPost>());
        LXM_TRY_VOID(inst.check_create(post));  // 400/404/409 before any operation exists
        auto spec = task("Creating instance", post.name);
        spec.run = [&inst, post](OperationContext& c) -> Result<void> {
            return inst.create(post, [&c](const json& patch) { c.update_metadata(patch); });
        };
        return start_op(api, std::move(spec));
    });

    add(api, "GET", "/1.0/instances/{name}", [&inst](const Request& req) -> Result<Response> {
        const auto& name = req.param("name");
        LXM_TRY(auto i, inst.get(name, req.recursion() >= 1));
        LXM_TRY(json etag, inst.etag_state(name));
        return Response::sync_etag(instance_json(i), etag_hash(etag));
    });

    add(api, "PUT", "/1.0/instances/{name}", [&api, &inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto put, req.body_as<apitypes::InstancePut>());
        LXM_TRY(json cur, inst.etag_state(name));
        LXM_TRY_VOID(etag_check(req, cur));
        if (!put.restore.empty()) {
            auto spec = task("Restoring snapshot", name);
            spec.run = [&inst, name, snap = put.restore](OperationContext&) { return inst.restore_snapshot(name, snap); };
            return start_op(api, std::move(spec));
        }
        // Validate now (a bad key is a 400 on the request, not a failed operation).
        LXM_TRY_VOID(core::merge_user_config(cur["config"].get<core::ConfigMap>(), put.config));
        LXM_TRY_VOID(core::validate_devices(put.devices));
        auto spec = task("Updating instance", name);
        spec.run = [&inst, name, put](OperationContext&) { return inst.update(name, put); };
        return start_op(api, std::move(spec));
    });

    add(api, "PATCH", "/1.0/instances/{name}", [&inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        if (!body->is_object()) return http_error(400, "The request body must be a JSON object");
        LXM_TRY(json cur, inst.etag_state(name));
        LXM_TRY_VOID(etag_check(req, cur));
        json merged = cur;
        for (const auto& [k, v] : body->items()) {
            if ((k == "config" || k == "devices") && v.is_object()) {
                for (const auto& [ck, cv] : v.items()) merged[k][ck] = cv;
            } else {
                merged[k] = v;
            }
        }
        auto put = apitypes::parse_as<apitypes::InstancePut>(merged);
        if (!put) return http_error(400, put.error().context);
        LXM_TRY_VOID(inst.update(name, *put));
        return Response::empty();
    });

    add(api, "DELETE", "/1.0/instances/{name}", [&api, &inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto st, inst.state(name));
        if (st.status != "Stopped") return http_error(400, "Instance is running");
        auto spec = task("Deleting instance", name);
        spec.run = [&inst, name](OperationContext&) { return inst.remove(name); };
        return start_op(api, std::move(spec));
    });

    add(api, "POST", "/1.0/instances/{name}", [&api, &inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto post, req.body_as<apitypes::InstancePost>());
        if (post.migration) return http_error(501, "Migration is not implemented yet");
        if (!post.pool.empty()) {
            // Into another storage pool (LXD's instance_pool_move), optionally renamed.
            LXM_TRY(auto st, inst.state(name));
            if (st.status != "Stopped")
                return http_error(400, "The instance must be stopped to move it to another storage pool");
            if (!post.name.empty() && post.name != name) LXM_TRY_VOID(core::validate_instance_name(post.name));
            auto spec = task("Moving instance to storage pool " + post.pool, name);
            spec.run = [&inst, name, pool = post.pool, to = post.name](OperationContext& c) {
                return inst.move_to_pool(name, pool, to, [&c](const json& patch) { c.update_metadata(patch); });
            };
            return start_op(api, std::move(spec));
        }
        LXM_TRY(auto st, inst.state(name));
        if (st.status != "Stopped") return http_error(400, "Renaming of running instance not allowed");
        LXM_TRY_VOID(core::validate_instance_name(post.name));
        auto spec = task("Renaming instance", name);
        spec.run = [&inst, name, to = post.name](OperationContext&) { return inst.rename(name, to); };
        return start_op(api, std::move(spec));
    });

    add(api, "GET", "/1.0/instances/{name}/state", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(auto st, inst.state(req.param("name")));
        return Response::sync(json(st));
    });

    add(api, "PUT", "/1.0/instances/{name}/state", [&api, &inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto put, req.body_as<apitypes::InstanceStatePut>());
        LXM_TRY(auto cur, inst.state(name));  // 404 before an operation exists
        (void)cur;
        std::function<Result<void>()> work;
        std::string what;
        if (put.action == "start") {
            what = "Starting instance";
            work = [&inst, name] { return inst.start(name); };
        } else if (put.action == "stop") {
            what = "Stopping instance";
            work = [&inst, name, put] { return inst.stop(name, put.timeout, put.force); };
        } else if (put.action == "restart") {
            what = "Restarting instance";
            work = [&inst, name, put] { return inst.restart(name, put.timeout, put.force); };
        } else if (put.action == "freeze") {
            what = "Freezing instance";
            work = [&inst, name] { return inst.freeze(name); };
        } else if (put.action == "unfreeze") {
            what = "Unfreezing instance";
            work = [&inst, name] { return inst.unfreeze(name); };
        } else {
            return http_error(400, "Unknown action \"" + put.action.substr(0, 32) +
                                       "\" (start, stop, restart, freeze, unfreeze)");
        }
        if (put.stateful) return http_error(400, "Stateful start/stop is not supported");
        auto spec = task(what, name);
        spec.run = [work](OperationContext&) { return work(); };
        return start_op(api, std::move(spec));
    });

    // Snapshots, as LXD: list, take (async), get, rename (async), delete (async).
    add(api, "GET", "/1.0/instances/{name}/snapshots", [&inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto snaps, inst.snapshots(name));
        json out = json::array();
        for (const auto& s : snaps) {
            if (req.recursion() >= 1) out.push_back(json(s));
            else out.push_back(req.url(snapshot_url(name, s.name)));
        }
        return Response::sync(out);
    });
    add(api, "POST", "/1.0/instances/{name}/snapshots", [&api, &inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto post, req.body_as<apitypes::InstanceSnapshotsPost>());
        if (post.stateful) return http_error(400, "Stateful snapshots are not supported");
        LXM_TRY(std::string snap, inst.check_snapshot_create(name, post.name));
        std::optional<int64_t> expires;
        if (post.expires_at && *post.expires_at != apitypes::zero_time())
            expires = post.expires_at->time_since_epoch().count();
        else if (!post.expires_at) {  // not given: snapshots.expiry, as LXD
            LXM_TRY(expires, inst.default_snapshot_expiry(name));
        }
        auto spec = task("Snapshotting instance", name);
        spec.resources["instances_snapshots"] = {snapshot_url(name, snap)};
        spec.run = [&inst, name, snap, expires](OperationContext&) { return inst.create_snapshot(name, snap, expires); };
        return start_op(api, std::move(spec));
    });
    add(api, "GET", "/1.0/instances/{name}/snapshots/{snap}", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(auto s, inst.snapshot(req.param("name"), req.param("snap")));
        return Response::sync(json(s));
    });
    add(api, "DELETE", "/1.0/instances/{name}/snapshots/{snap}", [&api, &inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        const auto snap = req.param("snap");
        LXM_TRY(auto s, inst.snapshot(name, snap));  // 404 before an operation exists
        (void)s;
        auto spec = task("Deleting snapshot", name);
        spec.resources["instances_snapshots"] = {snapshot_url(name, snap)};
        spec.run = [&inst, name, snap](OperationContext&) { return inst.delete_snapshot(name, snap); };
        return start_op(api, std::move(spec));
    });
    add(api, "POST", "/1.0/instances/{name}/snapshots/{snap}", [&api, &inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        const auto snap = req.param("snap");
        LXM_TRY(auto post, req.body_as<apitypes::InstancePost>());
        if (post.migration) return http_error(501, "Migration is not implemented yet");
        LXM_TRY(auto s, inst.snapshot(name, snap));
        (void)s;
        LXM_TRY_VOID(core::validate_object_name("Snapshot", post.name));
        if (auto other = inst.snapshot(name, post.name); other)
            return http_error(409, "Snapshot \"" + post.name + "\" already exists");
        auto spec = task("Renaming snapshot", name);
        spec.resources["instances_snapshots"] = {snapshot_url(name, snap)};
        spec.run = [&inst, name, snap, to = post.name](OperationContext&) { return inst.rename_snapshot(name, snap, to); };
        return start_op(api, std::move(spec));
    });

    // Backups: none (export/import of backups is not implemented); lxc info needs the route.
    add(api, "GET", "/1.0/instances/{name}/backups", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(auto st, inst.state(req.param("name")));
        (void)st;
        return Response::sync(json::array());
    });
}

}  // namespace lxm::api
