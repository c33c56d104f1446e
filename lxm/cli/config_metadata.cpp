// config metadata show/edit and config template list/show/create/edit/delete, as lxc:
// the image metadata an instance keeps (GET/PUT /1.0/instances/<n>/metadata with its
// ETag) and its template files (/1.0/instances/<n>/metadata/templates?path=).
#include <unistd.h>

#include <cstdio>

#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"
#include "lxm/cli/yaml.hpp"

namespace lxm::cli {

namespace {

struct MetaOpts {
    std::string name;
    std::string file;
};

std::string metadata_url(const std::string& name) { return instance_url(name) + "/metadata"; }
std::string template_url(const std::string& name, const std::string& file) {
    return metadata_url(name) + "/templates?path=" + url_escape(file);
}

// Property values are strings on the wire ("version: 12" reads as a number).
void stringify_metadata(json& m) {
    auto strings = [](json& obj) {
        if (!obj.is_object()) return;
        for (auto& [k, v] : obj.items())
            if (!v.is_string() && !v.is_null()) v = v.dump();
    };
    if (m.contains("properties")) strings(m["properties"]);
    if (m.contains("templates") && m["templates"].is_object())
        for (auto& [path, t] : m["templates"].items())
            if (t.is_object() && t.contains("properties")) strings(t["properties"]);
}

base::Result<void> put_template(Context& ctx, const std::string& name, const std::string& file, std::string text) {
    LXM_TRY(auto* c, ctx.client());
    LXM_TRY(auto r, c->raw("POST", template_url(name, file), std::move(text),
                           {{"Content-Type", "application/octet-stream"}}));
    (void)r;
    return {};
}

void add_metadata(CLI::App* config, Context& ctx, Action& chosen) {
    auto* meta = config->add_subcommand("metadata", "Show or edit an instance's image metadata (metadata.yaml)");
    meta->require_subcommand(1);
    {
        auto o = std::make_shared<MetaOpts>();
        auto* sub = meta->add_subcommand("show", "Show the instance's metadata (YAML)");
        sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(json m, c->get(metadata_url(o->name)));
            print(ctx.out, to_yaml(m));
            return 0;
        });
    }
    {
        auto o = std::make_shared<MetaOpts>();
        auto* sub = meta->add_subcommand("edit", "Edit the instance's metadata as YAML in $EDITOR (or read it from stdin)");
        sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto cur, c->query("GET", metadata_url(o->name)));
            LXM_TRY(auto text, edit_text(to_yaml(cur.metadata)));
            auto edited = parse_yaml(text);
            if (!edited) return user_error(edited.error().context);
            if (!edited->is_object()) return user_error("the edited text is not a YAML mapping");
            stringify_metadata(*edited);
            std::map<std::string, std::string> headers;
            if (!cur.etag.empty()) headers["If-Match"] = "\"" + cur.etag + "\"";
            LXM_TRY(auto r, c->query("PUT", metadata_url(o->name), *edited, headers));
            (void)r;
            return 0;
        });
    }
}

void add_templates(CLI::App* config, Context& ctx, Action& chosen) {
    auto* tpl = config->add_subcommand("template", "Manage an instance's file templates");
    tpl->require_subcommand(1);
    {
        auto o = std::make_shared<MetaOpts>();
        auto* sub = tpl->add_subcommand("list", "List the instance's template files");
        sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(json files, c->get(metadata_url(o->name) + "/templates"));
            std::string out;
            for (const auto& f : files)
                if (f.is_string()) out += f.get<std::string>() + "\n";
            print(ctx.out, out);
            return 0;
        });
    }
    {
        auto o = std::make_shared<MetaOpts>();
        auto* sub = tpl->add_subcommand("show", "Show a template file");
        sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
        sub->add_option("template", o->file, "Template file name")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto r, c->raw("GET", template_url(o->name, o->file)));
            print(ctx.out, r.body);
            return 0;
        });
    }
    {
        auto o = std::make_shared<MetaOpts>();
        auto* sub = tpl->add_subcommand("create", "Create an empty template file (or from stdin when it is not a terminal)");
        sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
        sub->add_option("template", o->file, "Template file name")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            std::string text;
            if (!::isatty(0)) {
                char buf[65536];
                size_t n;
                while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) text.append(buf, n);
            }
            LXM_TRY_VOID(put_template(ctx, o->name, o->file, std::move(text)));
            return 0;
        });
    }
    {
        auto o = std::make_shared<MetaOpts>();
        auto* sub = tpl->add_subcommand("edit", "Edit a template file in $EDITOR (or read it from stdin)");
        sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
        sub->add_option("template", o->file, "Template file name")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto r, c->raw("GET", template_url(o->name, o->file)));
            LXM_TRY(auto text, edit_text(r.body));
            LXM_TRY_VOID(put_template(ctx, o->name, o->file, std::move(text)));
            return 0;
        });
    }
    {
        auto o = std::make_shared<MetaOpts>();
        auto* sub = tpl->add_subcommand("delete", "Delete a template file");
        sub->alias("rm");
        sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
        sub->add_option("template", o->file, "Template file name")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto r, c->query("DELETE", template_url(o->name, o->file)));
            (void)r;
            return 0;
        });
    }
}

}  // namespace

void add_config_metadata_commands(CLI::App& app, Context& ctx, Action& chosen) {
    auto* config = app.get_subcommand("config");
    add_metadata(config, ctx, chosen);
    add_templates(config, ctx, chosen);
}

}  // namespace lxm::cli
