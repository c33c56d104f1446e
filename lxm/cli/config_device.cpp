// config device add/remove/list/show/get/set/unset/override and the same verbs (but
// override) under profile device, as lxc has them:
//   lxm config device add c1 web proxy listen=tcp:127.0.0.1:8080 connect=tcp:127.0.0.1:80
// Writes go through update_writable (GET with ETag, change the devices, PUT with If-Match).
// An instance device that comes from a profile is copied into the instance by set, unset
// and override (lxc's "override"); remove refuses it with the way out.
#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"

namespace lxm::cli {

namespace {

struct DeviceOpts {
    std::string target;
    std::string device;
    std::string type;
    std::vector<std::string> args;
};

std::string url_of(const std::string& target, bool profile) {
    return profile ? "/1.0/profiles/" + url_escape(target) : instance_url(target);
}

// The resource as the server has it now (an instance also carries expanded_devices).
base::Result<json> fetch(Context& ctx, const std::string& target, bool profile) {
    if (!profile) return get_instance(ctx, target);
    LXM_TRY(auto* c, ctx.client());
    LXM_TRY(auto r, c->query("GET", url_of(target, true)));
    return std::move(r.metadata);
}

// The device in w's devices; for an instance whose device comes from a profile, a copy of
// the expanded one is put there first (copy_from_profile) or its absence is explained.
base::Result<json*> local_device(Context& ctx, json& w, const DeviceOpts& o, bool profile, bool copy_from_profile) {
    if (!w["devices"].is_object()) w["devices"] = json::object();
    auto it = w["devices"].find(o.device);
    if (it != w["devices"].end()) return &*it;
    if (!profile) {
        LXM_TRY(json inst, fetch(ctx, o.target, false));
        json exp = inst.value("expanded_devices", json::object());
        if (exp.contains(o.device)) {
            if (!copy_from_profile)
                return user_error("Device from profile(s) cannot be removed from individual instance. "
                                  "Override device or modify profile instead");
            w["devices"][o.device] = exp[o.device];
            return &w["devices"][o.device];
        }
    }
    return user_error("Device doesn't exist");
}

// KEY VALUE, or KEY=VALUE pairs.
base::Result<json> pairs(const std::vector<std::string>& args) {
    if (args.size() == 2 && args[0].find('=') == std::string::npos) return json{{args[0], args[1]}};
    return key_values(args);
}

void add_device_verbs(CLI::App* parent, Context& ctx, Action& chosen, bool profile) {
    auto* dev = parent->add_subcommand("device", profile ? "Manage profile devices" : "Manage instance devices");
    dev->require_subcommand(1);
    const std::string what = profile ? "Profile" : "Instance";

    {
        auto o = std::make_shared<DeviceOpts>();
        auto* sub = dev->add_subcommand("add", "Add a device: device add NAME DEVICE TYPE [KEY=VALUE...]");
        sub->add_option("name", o->target, what)->transform(remote_arg(ctx))->required();
        sub->add_option("device", o->device, "Device name")->required();
        sub->add_option("type", o->type, "Device type (nic, proxy, disk, none)")->required();
        sub->add_option("args", o->args, "KEY=VALUE pairs");
        on_run(sub, chosen, [&ctx, o, profile]() -> base::Result<int> {
            LXM_TRY(json kv, key_values(o->args));
            LXM_TRY_VOID(update_writable(ctx, url_of(o->target, profile), profile, [&](json& w) -> base::Result<void> {
                if (!w["devices"].is_object()) w["devices"] = json::object();
                if (w["devices"].contains(o->device)) return user_error("The device already exists");
                json d = kv;
                d["type"] = o->type;
                w["devices"][o->device] = d;
                return {};
            }));
            print(ctx.out, "Device " + o->device + " added to " + o->target + "\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<DeviceOpts>();
        auto* sub = dev->add_subcommand("remove", "Remove devices: device remove NAME DEVICE...");
        sub->alias("rm");
        sub->add_option("name", o->target, what)->transform(remote_arg(ctx))->required();
        sub->add_option("devices", o->args, "Device names")->required();
        on_run(sub, chosen, [&ctx, o, profile]() -> base::Result<int> {
            LXM_TRY_VOID(update_writable(ctx, url_of(o->target, profile), profile, [&](json& w) -> base::Result<void> {
                for (const auto& name : o->args) {
                    DeviceOpts one = *o;
                    one.device = name;
                    LXM_TRY_VOID(local_device(ctx, w, one, profile, false));
                    w["devices"].erase(name);
                }
                return {};
            }));
            for (const auto& name : o->args) print(ctx.out, "Device " + name + " removed from " + o->target + "\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<DeviceOpts>();
        auto* sub = dev->add_subcommand("list", "List the devices (names)");
        sub->alias("ls");
        sub->add_option("name", o->target, what)->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o, profile]() -> base::Result<int> {
            LXM_TRY(json r, fetch(ctx, o->target, profile));
            json devs = r.value("devices", json::object());
            for (const auto& [name, d] : devs.items()) print(ctx.out, name + "\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<DeviceOpts>();
        auto* sub = dev->add_subcommand("show", "Show the full device configuration (YAML)");
        sub->add_option("name", o->target, what)->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o, profile]() -> base::Result<int> {
            LXM_TRY(json r, fetch(ctx, o->target, profile));
            print(ctx.out, to_yaml(r.value("devices", json::object())));
            return 0;
        });
    }
    {
        auto o = std::make_shared<DeviceOpts>();
        auto* sub = dev->add_subcommand("get", "Get a device key: device get NAME DEVICE KEY");
        sub->add_option("name", o->target, what)->transform(remote_arg(ctx))->required();
        sub->add_option("device", o->device, "Device name")->required();
        sub->add_option("key", o->args, "Key")->required()->expected(1);
        on_run(sub, chosen, [&ctx, o, profile]() -> base::Result<int> {
            LXM_TRY(json r, fetch(ctx, o->target, profile));
            json devs = r.value("devices", json::object());
            if (!devs.contains(o->device)) devs = r.value("expanded_devices", json::object());
            if (!devs.contains(o->device)) return user_error("Device doesn't exist");
            auto it = devs[o->device].find(o->args[0]);
            print(ctx.out, (it != devs[o->device].end() && it->is_string() ? it->get<std::string>() : "") + "\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<DeviceOpts>();
        auto* sub = dev->add_subcommand("set", "Set device keys: device set NAME DEVICE KEY VALUE | KEY=VALUE...");
        sub->add_option("name", o->target, what)->transform(remote_arg(ctx))->required();
        sub->add_option("device", o->device, "Device name")->required();
        sub->add_option("args", o->args, "KEY VALUE, or KEY=VALUE pairs")->required();
        on_run(sub, chosen, [&ctx, o, profile]() -> base::Result<int> {
            LXM_TRY(json kv, pairs(o->args));
            LXM_TRY_VOID(update_writable(ctx, url_of(o->target, profile), profile, [&](json& w) -> base::Result<void> {
                LXM_TRY(json* d, local_device(ctx, w, *o, profile, true));
                for (auto& [k, v] : kv.items()) (*d)[k] = v;
                return {};
            }));
            return 0;
        });
    }
    {
        auto o = std::make_shared<DeviceOpts>();
        auto* sub = dev->add_subcommand("unset", "Remove a device key: device unset NAME DEVICE KEY");
        sub->add_option("name", o->target, what)->transform(remote_arg(ctx))->required();
        sub->add_option("device", o->device, "Device name")->required();
        sub->add_option("key", o->args, "Key")->required()->expected(1);
        on_run(sub, chosen, [&ctx, o, profile]() -> base::Result<int> {
            LXM_TRY_VOID(update_writable(ctx, url_of(o->target, profile), profile, [&](json& w) -> base::Result<void> {
                LXM_TRY(json* d, local_device(ctx, w, *o, profile, true));
                if (!d->contains(o->args[0]))
                    return user_error("can't unset key '" + o->args[0] + "', it's not currently set");
                d->erase(o->args[0]);
                return {};
            }));
            return 0;
        });
    }
    if (!profile) {
        auto o = std::make_shared<DeviceOpts>();
        auto* sub = dev->add_subcommand(
            "override", "Copy a device from the instance's profiles into the instance: device override NAME DEVICE [KEY=VALUE...]");
        sub->add_option("name", o->target, what)->transform(remote_arg(ctx))->required();
        sub->add_option("device", o->device, "Device name")->required();
        sub->add_option("args", o->args, "KEY=VALUE pairs");
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(json kv, key_values(o->args));
            LXM_TRY_VOID(update_writable(ctx, instance_url(o->target), false, [&](json& w) -> base::Result<void> {
                if (w["devices"].is_object() && w["devices"].contains(o->device))
                    return user_error("The device already exists");
                LXM_TRY(json* d, local_device(ctx, w, *o, false, true));
                for (auto& [k, v] : kv.items()) (*d)[k] = v;
                return {};
            }));
            print(ctx.out, "Device " + o->device + " overridden for " + o->target + "\n");
            return 0;
        });
    }
}

}  // namespace

void add_config_device_commands(CLI::App& app, Context& ctx, Action& chosen) {
    add_device_verbs(app.get_subcommand("config"), ctx, chosen, false);
    add_device_verbs(app.get_subcommand("profile"), ctx, chosen, true);
}

}  // namespace lxm::cli
