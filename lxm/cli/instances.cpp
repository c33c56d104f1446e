// Instance life cycle: launch, init, start, stop, restart, pause, resume, delete,
// move/rename, copy, snapshot, restore — the requests `lxc` sends (LXD-API.md §2.3).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <utility>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"

namespace lxm::cli {

base::Result<json> get_instance(Context& ctx, const std::string& name) {
    LXM_TRY(auto* c, ctx.client());
    return c->get(instance_url(name));
}

base::Result<void> change_state(Context& ctx, const std::string& name, const std::string& action, int timeout,
                                bool force) {
    json body = {{"action", action}, {"timeout", timeout}, {"force", force}, {"stateful", false}};
    LXM_TRY_VOID(ctx.run("PUT", instance_url(name) + "/state", body));
    return {};
}

base::Result<json> key_values(const std::vector<std::string>& args) {
    json out = json::object();
    for (auto& a : args) {
        auto kv = parse_key_value(a);
        if (!kv) return user_error(kv.error().context);
        out[kv->first] = kv->second;
    }
    return out;
}

base::Result<std::string> edit_text(const std::string& initial) {
    if (!::isatty(STDIN_FILENO)) {
        std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
        return all;
    }
    char tmpl[] = "/tmp/lxm_editor_XXXXXX.yaml";
    int fd = ::mkstemps(tmpl, 5);
    if (fd < 0) return base::errno_error("create a temporary file");
    base::Defer cleanup([&] { ::unlink(tmpl); });
    {
        std::ofstream f(tmpl);
        f << initial;
        ::close(fd);
    }
    const char* ed = std::getenv("VISUAL");
    if (!ed || !*ed) ed = std::getenv("EDITOR");
    std::string cmd = std::string(ed && *ed ? ed : "vi") + " '" + tmpl + "'";
    if (std::system(cmd.c_str()) != 0) return user_error("the editor failed: " + cmd);
    std::ifstream f(tmpl);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

namespace {

struct CreateOpts {
    std::string image;
    std::string name;
    std::vector<std::string> config;
    std::vector<std::string> profiles;
    bool no_profiles = false;
    bool ephemeral = false;
    bool empty = false;
    bool quiet = false;
    std::string storage;  // -s: the root disk's pool
};

// "images:debian/12" / "local:busybox" / "busybox" / a fingerprint → the image source.
json image_source(const std::string& image) {
    std::string ref = image;
    if (auto colon = ref.find(':'); colon != std::string::npos) ref = ref.substr(colon + 1);
    bool hex = ref.size() >= 12 && ref.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (hex) return {{"type", "image"}, {"fingerprint", ref}};
    return {{"type", "image"}, {"alias", ref}};
}

base::Result<std::string> create(Context& ctx, const CreateOpts& o, bool quiet) {
    LXM_TRY(auto config, key_values(o.config));
    json body = {{"name", o.name},     {"type", "container"}, {"config", config},
                 {"devices", json::object()}, {"ephemeral", o.ephemeral}};
    if (o.no_profiles)
        body["profiles"] = json::array();
    else if (!o.profiles.empty())
        body["profiles"] = o.profiles;
    else
        body["profiles"] = nullptr;
    body["source"] = o.empty || o.image.empty() ? json{{"type", "none"}} : image_source(o.image);
    // As lxc -s: a root disk on that pool in the instance's own devices.
    if (!o.storage.empty()) body["devices"]["root"] = {{"type", "disk"}, {"path", "/"}, {"pool", o.storage}};
    if (!quiet) print(ctx.out, o.name.empty() ? "Creating the instance\n" : "Creating " + o.name + "\n");
    LXM_TRY(auto op, ctx.run("POST", "/1.0/instances", body));
    std::string name = o.name;
    if (name.empty()) {
        auto it = op.resources.find("instances");
        if (it != op.resources.end() && !it->second.empty()) {
            auto& url = it->second.front();
            name = url.substr(url.rfind('/') + 1);
        }
        if (!quiet && !name.empty()) print(ctx.out, "Instance name is: " + name + "\n");
    }
    if (name.empty()) return user_error("the server did not say which instance it created");
    return name;
}

void add_create(CLI::App& app, Context& ctx, Action& chosen, bool launch) {
    auto o = std::make_shared<CreateOpts>();
    auto* sub = app.add_subcommand(launch ? "launch" : "init",
                                   launch ? "Create and start an instance from an image"
                                          : "Create an instance from an image");
    sub->add_option("image", o->image, "Image alias or fingerprint (e.g. debian/12, busybox)");
    sub->add_option("name", o->name, "Instance name (the server picks one if omitted)")->transform(remote_arg(ctx));
    sub->add_option("-c,--config", o->config, "Config key=value to apply")->allow_extra_args(false);
    sub->add_option("-p,--profile", o->profiles, "Profile to apply (repeatable)")->allow_extra_args(false);
    sub->add_flag("-n,--no-profiles", o->no_profiles, "Create the instance with no profiles");
    sub->add_flag("-e,--ephemeral", o->ephemeral, "Ephemeral instance (deleted when stopped)");
    if (!launch) sub->add_flag("--empty", o->empty, "Create an empty instance (no image)");
    sub->add_flag("-q,--quiet", o->quiet, "Print nothing on success");
    sub->add_option("-s,--storage", o->storage, "Storage pool of the root disk");
    on_run(sub, chosen, [&ctx, o, launch]() -> base::Result<int> {
        const bool* quiet = &o->quiet;
        if (o->empty && !o->image.empty()) {
            // `init --empty NAME`: the one positional is the name (CLI11 fills the image first).
            if (!o->name.empty()) return user_error("--empty creates an instance without an image: lxm init --empty [NAME]");
            o->name = std::exchange(o->image, std::string());
            LXM_TRY_VOID(ctx.take_remote(o->name));
        }
        if (o->image.empty() && !o->empty) return user_error("an image is required (e.g. lxm launch busybox c1)");
        LXM_TRY(auto name, create(ctx, *o, *quiet));
        if (launch) {
            if (!*quiet) print(ctx.out, "Starting " + name + "\n");
            auto r = change_state(ctx, name, "start", -1, false);
            if (!r)
                return user_error(error_text(r.error()) + "\nTry `lxm info --show-log " + name +
                                  "` for more info");
        }
        return 0;
    });
}

struct StateOpts {
    std::vector<std::string> names;
    bool force = false;
    int timeout = -1;
    bool all = false;
};

base::Result<std::vector<std::string>> targets(Context& ctx, const StateOpts& o) {
    if (!o.all) {
        if (o.names.empty()) return user_error("no instance name given");
        return o.names;
    }
    LXM_TRY(auto* c, ctx.client());
    LXM_TRY(auto list, c->get("/1.0/instances"));
    std::vector<std::string> out;
    for (auto& url : list)
        if (url.is_string()) out.push_back(url.get<std::string>().substr(url.get<std::string>().rfind('/') + 1));
    return out;
}

void add_state(CLI::App& app, Context& ctx, Action& chosen, const std::string& verb, const std::string& action,
               const std::string& help) {
    auto o = std::make_shared<StateOpts>();
    auto* sub = app.add_subcommand(verb, help);
    sub->add_option("names", o->names, "Instance names")->transform(remote_arg(ctx));
    sub->add_flag("--all", o->all, "Apply to every instance");
    if (action == "stop" || action == "restart") {
        sub->add_flag("-f,--force", o->force, "Force the instance to stop (kill instead of shutting down)");
        sub->add_option("--timeout", o->timeout, "Seconds to wait for a clean shutdown before failing (-1: forever)");
    }
    on_run(sub, chosen, [&ctx, o, action]() -> base::Result<int> {
        LXM_TRY(auto names, targets(ctx, *o));
        int rc = 0;
        for (auto& name : names) {
            std::string act = action;
            int timeout = o->timeout;
            if (action == "start") {
                timeout = 0;
                // A frozen instance is resumed by start, as lxc does.
                auto inst = get_instance(ctx, name);
                if (!inst) {
                    print(ctx.err, "Error: " + error_text(inst.error()) + "\n");
                    rc = 1;
                    continue;
                }
                if (inst->value("status", "") == "Frozen") act = "unfreeze";
            }
            if (action == "freeze" || action == "unfreeze") timeout = -1;
            auto r = change_state(ctx, name, act, timeout, o->force);
            if (!r) {
                std::string msg = error_text(r.error());
                if (names.size() > 1) msg = name + ": " + msg;
                print(ctx.err, "Error: " + msg + "\n");
                if (action == "start") print(ctx.err, "Try `lxm info --show-log " + name + "` for more info\n");
                rc = 1;
            }
        }
        return rc;
    });
}

struct DeleteOpts {
    std::vector<std::string> names;
    bool force = false;
};

base::Result<void> delete_one(Context& ctx, const std::string& name, bool force) {
    if (name.find('/') != std::string::npos) {  // a snapshot
        LXM_TRY_VOID(ctx.run("DELETE", instance_url(name)));
        return {};
    }
    LXM_TRY(auto inst, get_instance(ctx, name));
    std::string status = inst.value("status", "");
    if (status != "Stopped" && !status.empty()) {
        if (!force) return user_error("The instance is currently running, stop it first or pass --force");
        if (status == "Frozen") LXM_TRY_VOID(change_state(ctx, name, "unfreeze", -1, false));
        auto r = change_state(ctx, name, "stop", -1, true);
        // An ephemeral instance disappears when it stops: done then.
        if (!r && inst.value("ephemeral", false)) return {};
        if (!r) return std::unexpected(r.error());
    }
    LXM_TRY_VOID(ctx.run("DELETE", instance_url(name)));
    return {};
}

void add_delete(CLI::App& app, Context& ctx, Action& chosen) {
    auto o = std::make_shared<DeleteOpts>();
    auto* sub = app.add_subcommand("delete", "Delete instances or snapshots (NAME or NAME/SNAPSHOT)");
    sub->alias("rm");
    sub->add_option("names", o->names, "Instance or snapshot names")->transform(remote_arg(ctx))->required();
    sub->add_flag("-f,--force", o->force, "Stop a running instance first");
    on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
        int rc = 0;
        for (auto& n : o->names) {
            auto r = delete_one(ctx, n, o->force);
            if (!r) {
                print(ctx.err, "Error: " + (o->names.size() > 1 ? n + ": " : "") + error_text(r.error()) + "\n");
                rc = 1;
            }
        }
        return rc;
    });
}

// lxc's -c, -d, -p, --no-profiles of copy and move.
void add_copy_override_options(CLI::App* sub, CopyOverrides& o, const std::string& what) {
    sub->add_option("-c,--config", o.config, "Config key=value for " + what)->allow_extra_args(false);
    sub->add_option("-d,--device", o.devices, "Device key=value for " + what + ": DEVICE,KEY=VALUE")
        ->allow_extra_args(false);
    sub->add_option("-p,--profile", o.profiles, "Profile for " + what + " (repeatable; default: the source's)")
        ->allow_extra_args(false);
    sub->add_flag("--no-profiles", o.no_profiles, "No profiles for " + what);
}

void add_move(CLI::App& app, Context& ctx, Action& chosen) {
    auto names = std::make_shared<std::pair<std::string, std::string>>();
    auto* sub = app.add_subcommand("move", "Rename an instance or a snapshot (local): move OLD NEW");
    sub->alias("rename");
    sub->add_option("source", names->first, "Current name (or NAME/SNAP), [REMOTE:]NAME")->required();
    sub->add_option("target", names->second, "New name (or NAME/NEWSNAP); REMOTE:[NAME] moves to another server");
    auto move_opts = std::make_shared<RemoteCopyOptions>();
    move_opts->move = true;
    auto pool = std::make_shared<std::string>();
    auto stateless = std::make_shared<bool>(false);  // accepted as lxc's: stateless is all there is
    sub->add_flag("--instance-only", move_opts->instance_only, "Move without the snapshots (to another server)");
    sub->add_flag("--live", move_opts->live, "Live migration with CRIU (to another server)");
    sub->add_flag("--stateless", *stateless, "Move a running instance stopped and started again (the default)");
    sub->add_option("-s,--storage", *pool,
                    "Move the (stopped) instance into this storage pool; to another server: its root disk's pool there");
    add_copy_override_options(sub, move_opts->over, "the moved instance");
    sub->add_option("--mode", move_opts->mode, "Transfer mode to another server: pull (default), push or relay")
        ->check(CLI::IsMember({"pull", "push", "relay"}));
    on_run(sub, chosen, [&ctx, names, move_opts, pool, stateless]() -> base::Result<int> {
        if (!pool->empty() && names->second.find(':') == std::string::npos) {
            // Into another pool of the same server (POST {pool}, LXD's instance_pool_move).
            LXM_TRY_VOID(ctx.take_remote(names->first));
            if (names->first.find('/') != std::string::npos) return user_error("a snapshot cannot move to another pool");
            std::string target = names->second.empty() ? names->first : names->second;
            LXM_TRY_VOID(ctx.take_remote(target));
            LXM_TRY_VOID(ctx.run("POST", instance_url(names->first),
                                 json{{"name", target}, {"pool", *pool}, {"migration", false}}));
            return 0;
        }
        if (names->second.empty()) return user_error("move needs a target name (or -s POOL)");
        // Between two servers: lxm/cli/migrate.cpp (copy, then delete the source once the target has it).
        LXM_TRY(bool cross, is_cross_remote(ctx, names->first, names->second));
        if (cross) {
            move_opts->over.storage = *pool;
            return remote_copy(ctx, names->first, names->second, *move_opts);
        }
        if (!move_opts->over.config.empty() || !move_opts->over.devices.empty() || !move_opts->over.profiles.empty() ||
            move_opts->over.no_profiles)
            return user_error("-c, -d, -p and --no-profiles apply to a move to another server (REMOTE:[NAME])");
        LXM_TRY_VOID(ctx.take_remote(names->first));
        LXM_TRY_VOID(ctx.take_remote(names->second));
        std::string target = names->second;
        bool src_snap = names->first.find('/') != std::string::npos;
        if (src_snap) {
            auto slash = target.find('/');
            if (slash != std::string::npos) {
                if (target.substr(0, slash) != names->first.substr(0, names->first.find('/')))
                    return user_error("a snapshot can only be renamed within its instance");
                target = target.substr(slash + 1);
            }
        } else if (target.find('/') != std::string::npos) {
            return user_error("an instance cannot be renamed into a snapshot");
        }
        LXM_TRY_VOID(ctx.run("POST", instance_url(names->first), json{{"name", target}, {"migration", false}}));
        return 0;
    });
}

struct CopyOpts {
    std::string source, target;
    RemoteCopyOptions remote;
    bool ephemeral = false;
    bool stateless = false;  // accepted as lxc's: stateless is all there is
};

void add_copy(CLI::App& app, Context& ctx, Action& chosen) {
    auto o = std::make_shared<CopyOpts>();
    auto* sub = app.add_subcommand("copy", "Copy an instance or a snapshot to a new instance (local or to another server)");
    sub->alias("cp");
    sub->add_option("source", o->source, "Source instance (or NAME/SNAP), [REMOTE:]NAME")->required();
    sub->add_option("target", o->target, "New instance name, [REMOTE:]NAME (another server: a migration)")->required();
    add_copy_override_options(sub, o->remote.over, "the copy");
    sub->add_flag("--instance-only", o->remote.instance_only, "Copy without the snapshots");
    sub->add_flag("-e,--ephemeral", o->ephemeral, "Ephemeral copy");
    sub->add_option("-s,--storage", o->remote.over.storage, "Storage pool of the copy's root disk");
    sub->add_flag("--refresh", o->remote.refresh,
                  "Another server's existing copy gets only the snapshots it lacks and the current root");
    sub->add_option("--mode", o->remote.mode, "Transfer mode to another server: pull (default), push or relay")
        ->check(CLI::IsMember({"pull", "push", "relay"}));
    sub->add_flag("--stateless", o->stateless, "Copy a running instance's files only (the default)");
    on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
        o->remote.over.ephemeral = o->ephemeral;  // as lxc copy: not ephemeral unless -e
        // Between two servers: lxm/cli/migrate.cpp.
        LXM_TRY(bool cross, is_cross_remote(ctx, o->source, o->target));
        if (cross) return remote_copy(ctx, o->source, o->target, o->remote);
        if (o->remote.refresh) return user_error("--refresh works between two servers (REMOTE:NAME on both sides)");
        LXM_TRY_VOID(ctx.take_remote(o->source));
        LXM_TRY_VOID(ctx.take_remote(o->target));
        if (o->target.find('/') != std::string::npos) return user_error("the target must be an instance name");
        // Like lxc: the source's own config, devices and profiles with the overrides; the server
        // adds the source's keys the request lacks.
        LXM_TRY(auto src, get_instance(ctx, o->source));
        LXM_TRY(json body, copy_fields(ctx, src, o->remote.over));
        body["name"] = o->target;
        body["type"] = "container";
        body["source"] = {{"type", "copy"},
                          {"source", o->source},
                          {"instance_only", o->remote.instance_only},
                          {"container_only", o->remote.instance_only}};
        LXM_TRY_VOID(ctx.run("POST", "/1.0/instances", body));
        return 0;
    });
}

void add_snapshot(CLI::App& app, Context& ctx, Action& chosen) {
    auto names = std::make_shared<std::pair<std::string, std::string>>();
    auto* sub = app.add_subcommand("snapshot", "Snapshot an instance: snapshot NAME [SNAPSHOT]");
    sub->add_option("instance", names->first, "Instance")->transform(remote_arg(ctx))->required();
    sub->add_option("snapshot", names->second, "Snapshot name (the server picks snapN if omitted)");
    on_run(sub, chosen, [&ctx, names]() -> base::Result<int> {
        if (names->second.find('/') != std::string::npos) return user_error("snapshot names cannot contain '/'");
        json body = {{"name", names->second}, {"stateful", false}, {"expires_at", nullptr}};
        LXM_TRY_VOID(ctx.run("POST", instance_url(names->first) + "/snapshots", body));
        return 0;
    });
}

void add_restore(CLI::App& app, Context& ctx, Action& chosen) {
    auto names = std::make_shared<std::pair<std::string, std::string>>();
    auto* sub = app.add_subcommand("restore", "Restore an instance from a snapshot: restore NAME SNAPSHOT");
    sub->add_option("instance", names->first, "Instance")->transform(remote_arg(ctx))->required();
    sub->add_option("snapshot", names->second, "Snapshot name")->required();
    on_run(sub, chosen, [&ctx, names]() -> base::Result<int> {
        std::string snap = names->second;
        if (snap.find('/') == std::string::npos) snap = names->first + "/" + snap;
        json body = {{"restore", snap},   {"stateful", false}, {"architecture", ""}, {"config", nullptr},
                     {"devices", nullptr}, {"profiles", nullptr}, {"ephemeral", false}, {"description", ""}};
        LXM_TRY_VOID(ctx.run("PUT", instance_url(names->first), body));
        return 0;
    });
}

}  // namespace

void add_instance_commands(CLI::App& app, Context& ctx, Action& chosen) {
    add_create(app, ctx, chosen, true);
    add_create(app, ctx, chosen, false);
    add_state(app, ctx, chosen, "start", "start", "Start instances");
    add_state(app, ctx, chosen, "stop", "stop", "Stop instances");
    add_state(app, ctx, chosen, "restart", "restart", "Restart instances");
    add_state(app, ctx, chosen, "pause", "freeze", "Pause (freeze) instances");
    add_state(app, ctx, chosen, "resume", "unfreeze", "Resume (unfreeze) paused instances");
    add_delete(app, ctx, chosen);
    add_move(app, ctx, chosen);
    add_copy(app, ctx, chosen);
    add_snapshot(app, ctx, chosen);
    add_restore(app, ctx, chosen);
}

}  // namespace lxm::cli
