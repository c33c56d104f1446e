// lxm copy / lxm move between two servers (LXD-API.md §2.6, pull mode), as `lxc` does it:
//
//   1. source: GET /1.0 (environment.addresses, environment.certificate), GET the instance;
//   2. move of a running instance (stateless): stop it first (and start it again if anything fails);
//   3. source: POST /1.0/instances/SRC {migration: true, live, instance_only} → an operation
//      whose metadata holds the secrets {control, fs};
//   4. target: POST /1.0/instances {name, config, devices, profiles, source: {type: migration,
//      mode: pull, operation: https://<source address>/1.0/operations/<id>, secrets, certificate}};
//   5. wait for the target's operation, then the source's. The target's success is authoritative
//      (as in lxc, which waits on the target's operation alone): the target succeeds only after
//      it read the whole stream and committed the instance, so a source operation that fails
//      after that (the link cut after the target's confirmation, before the source read it) is
//      reported as a warning and changes nothing;
//   6. move: DELETE the source only now (the target confirmed), and start the new one if the old ran.
#include <cstdio>

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

}  // namespace

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
    if (src.arg.find('/') != std::string::npos)
        return user_error("copies of a snapshot to another server are not supported: copy the instance");
    std::string dst_name = dst.arg.empty() ? src.arg : dst.arg;
    if (dst_name.find('/') != std::string::npos) return user_error("the target must be an instance name");
    LXM_TRY(auto* sc, src.ctx->client());
    LXM_TRY(auto* dc, dst.ctx->client());

    LXM_TRY(json server, sc->get("/1.0"));
    json env = server.value("environment", json::object());
    std::string cert = env.value("certificate", "");
    std::vector<std::string> addresses;
    if (env.contains("addresses") && env["addresses"].is_array())
        for (const auto& a : env["addresses"])
            if (a.is_string()) addresses.push_back(a.get<std::string>());
    if (addresses.empty())
        return user_error("The source server isn't listening on the network (set core.https_address there)");
    if (cert.empty()) return user_error("The source server did not send its certificate");

    LXM_TRY(json inst, get_instance(*src.ctx, src.arg));
    bool running = inst.value("status", "") == "Running";
    bool restart_source = false;
    if (o.move && running && !o.live) {
        LXM_TRY_VOID(change_state(*src.ctx, src.arg, "stop", -1, false));
        restart_source = true;
    }
    base::Defer restart([&] {
        if (restart_source) (void)change_state(*src.ctx, src.arg, "start", 0, false);
    });

    json sreq{{"name", src.arg},
              {"migration", true},
              {"live", o.live && running},
              {"instance_only", o.instance_only},
              {"container_only", o.instance_only}};
    LXM_TRY(auto sop, sc->post(instance_url(src.arg), sreq));
    json secrets = sop.metadata.value("metadata", json::object());
    if (!secrets.contains("control") || !secrets.contains("fs"))
        return user_error("the source did not offer a migration (no control/fs secrets)");

    json config = inst.value("config", json::object());
    for (auto it = config.begin(); it != config.end();) {
        if (it.key().starts_with("volatile.")) it = config.erase(it);
        else ++it;
    }
    std::string addr = addresses.front();
    json treq{{"name", dst_name},
              {"type", "container"},
              {"config", config},
              {"devices", inst.value("devices", json::object())},
              {"profiles", inst.value("profiles", json::array())},
              {"ephemeral", inst.value("ephemeral", false)},
              {"source",
               {{"type", "migration"},
                {"mode", "pull"},
                {"operation", "https://" + addr + "/1.0/operations/" + op_id(sop.operation)},
                {"secrets", secrets},
                {"certificate", cert},
                {"live", o.live && running},
                {"instance_only", o.instance_only},
                {"container_only", o.instance_only},
                {"refresh", o.refresh}}}};
    auto top = dc->post("/1.0/instances", treq);
    if (!top) {
        (void)sc->del(sop.operation);  // cancel the source's offer
        return std::unexpected(top.error());
    }
    auto tdone = dst.ctx->wait(*top);
    if (!tdone) {
        (void)sc->del(sop.operation);  // the source stops sending; its instance was never changed
        (void)sc->wait_operation(sop.operation, 30);
        return std::unexpected(tdone.error());
    }
    if (auto sdone = src.ctx->wait(sop); !sdone)
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
