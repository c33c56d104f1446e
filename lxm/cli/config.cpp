// config get/set/unset/show/edit and profile list/show/create/edit/assign/delete/get/set/unset.
// Writes follow lxc: GET the object (with its ETag), change the writable part, PUT it back
// with If-Match, wait if the server answers with an operation.
#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"
#include "lxm/cli/yaml.hpp"

namespace lxm::cli {

namespace {

// The writable fields of an instance (lxd:shared/api/instance.go InstancePut).
json instance_writable(const json& inst) {
    return {{"architecture", inst.value("architecture", "")},
            {"config", inst.value("config", json::object())},
            {"devices", inst.value("devices", json::object())},
            {"ephemeral", inst.value("ephemeral", false)},
            {"profiles", inst.value("profiles", json::array())},
            {"stateful", inst.value("stateful", false)},
            {"description", inst.value("description", "")}};
}

json profile_writable(const json& p) {
    return {{"config", p.value("config", json::object())},
            {"description", p.value("description", "")},
            {"devices", p.value("devices", json::object())}};
}

std::string profile_url(const std::string& name) { return "/1.0/profiles/" + url_escape(name); }

// GET url; returns metadata and ETag.
base::Result<std::pair<json, std::string>> get_with_etag(Context& ctx, const std::string& url) {
    LXM_TRY(auto* c, ctx.client());
    LXM_TRY(auto r, c->query("GET", url));
    return std::pair{std::move(r.metadata), std::move(r.etag)};
}

base::Result<void> put_with_etag(Context& ctx, const std::string& url, const json& body, const std::string& etag) {
    LXM_TRY(auto* c, ctx.client());
    std::map<std::string, std::string> headers;
    if (!etag.empty()) headers["If-Match"] = "\"" + etag + "\"";
    LXM_TRY(auto r, c->query("PUT", url, body, headers));
    LXM_TRY_VOID(ctx.wait(r));
    return {};
}

// Apply fn to the writable part of url and PUT it back.
base::Result<void> update(Context& ctx, const std::string& url, bool profile,
                          const std::function<base::Result<void>(json&)>& fn) {
    LXM_TRY(auto got, get_with_etag(ctx, url));
    json w = profile ? profile_writable(got.first) : instance_writable(got.first);
    LXM_TRY_VOID(fn(w));
    return put_with_etag(ctx, url, w, got.second);
}

// The edited definition: YAML (JSON is YAML too), config/device values as strings.
base::Result<json> parse_edited(const std::string& text) {
    auto j = parse_yaml(text);
    if (!j) return user_error(j.error().context);
    if (!j->is_object()) return user_error("the edited text is not a YAML mapping");
    stringify_config(*j);
    return *j;
}

// `config set` and `profile set`: KEY VALUE, or KEY=VALUE pairs, written with If-Match.
base::Result<int> set_config_keys(Context& ctx, const std::string& url, bool is_profile,
                                  const std::vector<std::string>& args) {
    json kv = json::object();
    if (args.size() == 2 && args[0].find('=') == std::string::npos) {
        kv[args[0]] = args[1];
    } else {
        LXM_TRY(auto parsed, key_values(args));
        kv = parsed;
    }
    LXM_TRY_VOID(update(ctx, url, is_profile, [&](json& w) -> base::Result<void> {
        for (auto& [k, v] : kv.items()) w["config"][k] = v;
        return {};
    }));
    return 0;
}

// `config unset` and `profile unset`.
base::Result<int> unset_config_key(Context& ctx, const std::string& url, bool is_profile, const std::string& key) {
    LXM_TRY_VOID(update(ctx, url, is_profile, [&](json& w) -> base::Result<void> {
        if (!w["config"].contains(key)) return user_error("can't unset key '" + key + "', it's not currently set");
        w["config"].erase(key);
        return {};
    }));
    return 0;
}

struct ConfigOpts {
    std::string target;
    std::vector<std::string> args;
    bool expanded = false;
};

void add_config(CLI::App& app, Context& ctx, Action& chosen) {
    auto* config = app.add_subcommand("config", "Manage instance configuration");
    config->require_subcommand(1);

    {
        auto o = std::make_shared<ConfigOpts>();
        auto* sub = config->add_subcommand("get", "Get a config value: config get NAME KEY");
        sub->add_option("name", o->target, "Instance")->transform(remote_arg(ctx))->required();
        sub->add_option("key", o->args, "Key")->required()->expected(1);
        sub->add_flag("-e,--expanded", o->expanded, "Look in the expanded config (with profiles)");
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto inst, get_instance(ctx, o->target));
            json cfg = inst.value(o->expanded ? "expanded_config" : "config", json::object());
            auto it = cfg.find(o->args[0]);
            print(ctx.out, (it != cfg.end() && it->is_string() ? it->get<std::string>() : "") + "\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<ConfigOpts>();
        auto* sub = config->add_subcommand("set", "Set config values: config set NAME KEY VALUE | KEY=VALUE...");
        sub->add_option("name", o->target, "Instance")->transform(remote_arg(ctx))->required();
        sub->add_option("args", o->args, "KEY VALUE, or KEY=VALUE pairs")->required();
        on_run(sub, chosen, [&ctx, o]() { return set_config_keys(ctx, instance_url(o->target), false, o->args); });
    }
    {
        auto o = std::make_shared<ConfigOpts>();
        auto* sub = config->add_subcommand("unset", "Remove a config key: config unset NAME KEY");
        sub->add_option("name", o->target, "Instance")->transform(remote_arg(ctx))->required();
        sub->add_option("key", o->args, "Key")->required()->expected(1);
        on_run(sub, chosen, [&ctx, o]() { return unset_config_key(ctx, instance_url(o->target), false, o->args[0]); });
    }
    {
        auto o = std::make_shared<ConfigOpts>();
        auto* sub = config->add_subcommand("show", "Show an instance's configuration (YAML)");
        sub->add_option("name", o->target, "Instance (or NAME/SNAP)")->transform(remote_arg(ctx))->required();
        sub->add_flag("-e,--expanded", o->expanded, "Show the expanded configuration (with profiles)");
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto inst, get_instance(ctx, o->target));
            json show = {{"architecture", inst.value("architecture", "")},
                         {"config", inst.value(o->expanded ? "expanded_config" : "config", json::object())},
                         {"devices", inst.value(o->expanded ? "expanded_devices" : "devices", json::object())},
                         {"ephemeral", inst.value("ephemeral", false)},
                         {"profiles", inst.value("profiles", json::array())},
                         {"stateful", inst.value("stateful", false)},
                         {"description", inst.value("description", "")}};
            print(ctx.out, to_yaml(show));
            return 0;
        });
    }
    {
        auto o = std::make_shared<ConfigOpts>();
        auto* sub = config->add_subcommand(
            "edit", "Edit an instance's configuration as YAML in $EDITOR (or read it from stdin)");
        sub->add_option("name", o->target, "Instance")->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            std::string url = instance_url(o->target);
            LXM_TRY(auto got, get_with_etag(ctx, url));
            LXM_TRY(auto text, edit_text(to_yaml(instance_writable(got.first))));
            LXM_TRY(auto edited, parse_edited(text));
            LXM_TRY_VOID(put_with_etag(ctx, url, edited, got.second));
            return 0;
        });
    }
}

struct ProfileOpts {
    std::string name;
    std::vector<std::string> args;
    std::string format = "table";
    std::string description;
};

void add_profile(CLI::App& app, Context& ctx, Action& chosen) {
    auto* profile = app.add_subcommand("profile", "Manage profiles");
    profile->require_subcommand(1);
    {
        auto o = std::make_shared<ProfileOpts>();
        auto* sub = profile->add_subcommand("list", "List profiles");
        sub->alias("ls");
        sub->add_option("-f,--format", o->format, "table, csv, json, yaml")
            ->check(CLI::IsMember({"table", "csv", "json", "yaml"}));
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto list, c->get("/1.0/profiles?recursion=1"));
            std::vector<Row> rows;
            for (auto& p : list) {
                auto used = p.value("used_by", json::array());
                rows.push_back({p.value("name", ""), p.value("description", ""),
                                std::to_string(used.is_array() ? used.size() : 0)});
            }
            print(ctx.out, render_listing(list, o->format, {"NAME", "DESCRIPTION", "USED BY"}, std::move(rows)));
            return 0;
        });
    }
    {
        auto o = std::make_shared<ProfileOpts>();
        auto* sub = profile->add_subcommand("show", "Show a profile (YAML)");
        sub->add_option("name", o->name, "Profile")->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto p, c->get(profile_url(o->name)));
            json show = profile_writable(p);
            show["name"] = p.value("name", o->name);
            show["used_by"] = p.value("used_by", json::array());
            print(ctx.out, to_yaml(show));
            return 0;
        });
    }
    {
        auto o = std::make_shared<ProfileOpts>();
        auto* sub = profile->add_subcommand("create", "Create a profile");
        sub->add_option("name", o->name, "Profile")->transform(remote_arg(ctx))->required();
        sub->add_option("--description", o->description, "Description");
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto r, c->post("/1.0/profiles", json{{"name", o->name},
                                                           {"description", o->description},
                                                           {"config", json::object()},
                                                           {"devices", json::object()}}));
            LXM_TRY_VOID(ctx.wait(r));
            print(ctx.out, "Profile " + o->name + " created\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<ProfileOpts>();
        auto* sub = profile->add_subcommand("delete", "Delete a profile");
        sub->alias("rm");
        sub->add_option("name", o->name, "Profile")->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY_VOID(ctx.run("DELETE", profile_url(o->name)));
            print(ctx.out, "Profile " + o->name + " deleted\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<ProfileOpts>();
        auto* sub = profile->add_subcommand("edit", "Edit a profile as YAML in $EDITOR (or read it from stdin)");
        sub->add_option("name", o->name, "Profile")->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            std::string url = profile_url(o->name);
            LXM_TRY(auto got, get_with_etag(ctx, url));
            LXM_TRY(auto text, edit_text(to_yaml(profile_writable(got.first))));
            LXM_TRY(auto edited, parse_edited(text));
            LXM_TRY_VOID(put_with_etag(ctx, url, edited, got.second));
            return 0;
        });
    }
    {
        auto o = std::make_shared<ProfileOpts>();
        auto* sub = profile->add_subcommand("assign", "Set an instance's profiles: profile assign NAME p1,p2");
        sub->alias("apply");
        sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
        sub->add_option("profiles", o->args, "Comma-separated profiles (\"\" for none)")->required()->expected(1);
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            json profiles = json::array();
            std::string list = o->args[0];
            size_t start = 0;
            while (!list.empty() && start <= list.size()) {
                auto comma = list.find(',', start);
                std::string p = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
                if (!p.empty()) profiles.push_back(p);
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
            LXM_TRY_VOID(update(ctx, instance_url(o->name), false, [&](json& w) -> base::Result<void> {
                w["profiles"] = profiles;
                return {};
            }));
            if (profiles.empty())
                print(ctx.out, "Profiles removed from " + o->name + "\n");
            else
                print(ctx.out, "Profiles " + list + " applied to " + o->name + "\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<ProfileOpts>();
        auto* sub = profile->add_subcommand("set", "Set profile config: profile set NAME KEY VALUE | KEY=VALUE...");
        sub->add_option("name", o->name, "Profile")->transform(remote_arg(ctx))->required();
        sub->add_option("args", o->args, "KEY VALUE, or KEY=VALUE pairs")->required();
        on_run(sub, chosen, [&ctx, o]() { return set_config_keys(ctx, profile_url(o->name), true, o->args); });
    }
    {
        auto o = std::make_shared<ProfileOpts>();
        auto* sub = profile->add_subcommand("unset", "Remove a profile config key");
        sub->add_option("name", o->name, "Profile")->transform(remote_arg(ctx))->required();
        sub->add_option("key", o->args, "Key")->required()->expected(1);
        on_run(sub, chosen, [&ctx, o]() { return unset_config_key(ctx, profile_url(o->name), true, o->args[0]); });
    }
    {
        auto o = std::make_shared<ProfileOpts>();
        auto* sub = profile->add_subcommand("get", "Get a profile config value");
        sub->add_option("name", o->name, "Profile")->transform(remote_arg(ctx))->required();
        sub->add_option("key", o->args, "Key")->required()->expected(1);
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto p, c->get(profile_url(o->name)));
            json cfg = p.value("config", json::object());
            auto it = cfg.find(o->args[0]);
            print(ctx.out, (it != cfg.end() && it->is_string() ? it->get<std::string>() : "") + "\n");
            return 0;
        });
    }
}

}  // namespace

base::Result<void> update_writable(Context& ctx, const std::string& url, bool profile,
                                   const std::function<base::Result<void>(json&)>& fn) {
    return update(ctx, url, profile, fn);
}

void add_config_commands(CLI::App& app, Context& ctx, Action& chosen) {
    add_config(app, ctx, chosen);
    add_profile(app, ctx, chosen);
}

}  // namespace lxm::cli
