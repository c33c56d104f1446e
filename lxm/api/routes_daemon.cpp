// Server config (PUT/PATCH /1.0: the keys lxm knows), recovery
// (POST /internal/recover) and the wiring of every daemon route.
#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/core/proxy.hpp"
#include "store/server_config.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {

Result<void> check_server_config(const store::ConfigMap& c, const std::vector<ServerConfigHook>& hooks) {
    for (const auto& [k, v] : c) {
        bool owned = false;
        for (const auto& h : hooks) owned = owned || (h.owns && h.owns(k));
        if (k != core::kIdmapBaseKey && k != core::kIdmapRangesKey && !owned)
            return http_error(400, "Unknown server config key \"" + k.substr(0, 80) + "\"");
    }
    auto pool = core::id_pool_from_config(c);
    if (!pool) return http_error(400, pool.error().context);
    return {};
}

Result<store::ConfigMap> config_from_body(const json& j) {
    if (!j.is_object()) return http_error(400, "The request body must be a JSON object");
    store::ConfigMap out;
    auto it = j.find("config");
    if (it == j.end() || it->is_null()) return out;
    if (!it->is_object()) return http_error(400, "config must be an object");
    for (const auto& [k, v] : it->items()) {
        if (v.is_string()) out[k] = v.get<std::string>();
        else if (v.is_number_integer()) out[k] = std::to_string(v.get<int64_t>());
        else if (!v.is_null()) return http_error(400, "config value of \"" + k.substr(0, 80) + "\" must be a string");
    }
    return out;
}

}  // namespace

void register_server_config_routes(Api& api, DaemonRoutes& dr) {
    auto& st = dr.state;
    api.server_info().config = [&st]() -> json {
        auto c = st.store().read([](store::Transaction& tx) { return store::get_server_config(tx); });
        return c ? json(*c) : json::object();
    };
    auto put = [&st, &dr](bool patch) {
        return [&st, &dr, patch](const Request& req) -> Result<Response> {
            const auto& body = req.json_body();
            if (!body) return std::unexpected(body.error());
            LXM_TRY(store::ConfigMap in, config_from_body(*body));
            return st.store().write([&](store::Transaction& tx) -> Result<Response> {
                LXM_TRY(store::ConfigMap cur, store::get_server_config(tx));
                store::ConfigMap next = patch ? cur : store::ConfigMap{};
                for (const auto& [k, v] : in) {
                    if (v.empty()) next.erase(k);
                    else next[k] = v;
                }
                for (const auto& h : dr.config_hooks)
                    if (h.prepare) LXM_TRY_VOID(h.prepare(cur, next));
                LXM_TRY_VOID(check_server_config(next, dr.config_hooks));
                if (next != cur) {
                    // Shrinking the pool below ranges in use would strand instances: refuse.
                    LXM_TRY(auto recs, store::list_instances(tx));
                    LXM_TRY(core::IdPool pool, core::id_pool_from_config(next));
                    for (const auto& r : recs)
                        if (r.idmap_base && (*r.idmap_base < pool.base || *r.idmap_base + r.idmap_size.value_or(0) > pool.limit()))
                            return http_error(400, "Instance \"" + r.name + "\" uses host ids outside the new id pool");
                    LXM_TRY_VOID(store::replace_server_config(tx, next));
                    for (const auto& h : dr.config_hooks)
                        if (h.apply) LXM_TRY_VOID(h.apply(cur, next));
                }
                return Response::empty();
            });
        };
    };
    for (auto [method, patch] : {std::pair{"PUT", false}, std::pair{"PATCH", true}}) {
        Route r;
        r.handler = put(patch);
        r.blocking = true;
        r.body_limit = kJsonBodyLimit;
        api.router().add(method, "/1.0", std::move(r));
    }

    Route rec;
    rec.blocking = true;
    rec.body_limit = kJsonBodyLimit;
    rec.handler = [&dr](const Request& req) -> Result<Response> {
        bool dry = req.query_value("dry_run").value_or("") == "1" || req.query_value("dry_run").value_or("") == "true";
        LXM_TRY(store::RecoverReport r, dr.instances.recover(dry));
        json out{{"recovered", json::array()}, {"present", r.present}, {"failed", json::array()}};
        for (const auto& i : r.recovered) out["recovered"].push_back(i.name);
        for (const auto& [p, e] : r.failed) out["failed"].push_back({{"path", p}, {"error", e.message()}});
        if (!dry) {
            // Recovered instances may have running monitors: set their status from reality.
            LXM_TRY_VOID(dr.instances.reconcile());
        }
        return Response::sync(out);
    };
    api.router().add("POST", "/internal/recover", std::move(rec));
}

void register_daemon_routes(Api& api, DaemonRoutes& ctx) {
    register_instance_routes(api, ctx);
    register_exec_routes(api, ctx);
    register_file_routes(api, ctx);
    register_instance_metadata_routes(api, ctx);
    register_profile_routes(api, ctx);
    register_image_routes(api, ctx);
    register_server_config_routes(api, ctx);
    ctx.instances.set_lifecycle([&api](const std::string& action, const std::string& name, const json& c) {
        api.events().emit_lifecycle(action, "/1.0/instances/" + url_encode(name), c);
    });
    // Only what these routes really implement (LXD-API.md §2.7).
    for (const char* e : {"instances", "container_full", "container_backup", "container_exec_user_group_cwd", "console",
                          "patch", "instance_pool_move"})
        api.server_info().extensions.push_back(e);
    // Proxy devices: the extensions lxm/core/proxy.hpp implements, and only those.
    for (const char* e : core::kProxyExtensions) api.server_info().extensions.push_back(e);
}

}  // namespace lxm::api
