// storage list/create/info/show/delete (LXD's `lxc storage` over /1.0/storage-pools).
#include <map>

#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"

namespace lxm::cli {

namespace {

std::string pool_url(const std::string& n) { return "/1.0/storage-pools/" + url_escape(n); }

struct StorageOpts {
    std::string name, driver, format = "table";
    std::vector<std::string> config;
    std::string description;
    bool bytes = false;
};

std::string size_text(uint64_t b, bool bytes) { return bytes ? std::to_string(b) : format_size(static_cast<int64_t>(b)); }

}  // namespace

void add_storage_commands(CLI::App& app, Context& ctx, Action& chosen) {
    auto* storage = app.add_subcommand("storage", "Manage storage pools");
    storage->require_subcommand(1);
    {
        auto o = std::make_shared<StorageOpts>();
        auto* sub = storage->add_subcommand("list", "List storage pools");
        sub->alias("ls");
        sub->add_option("-f,--format", o->format, "table, csv, json, yaml")
            ->check(CLI::IsMember({"table", "csv", "json", "yaml"}));
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto pools, c->get("/1.0/storage-pools?recursion=1"));
            std::vector<Row> rows;
            for (auto& p : pools) {
                std::string source = p.contains("config") && p["config"].is_object() ? p["config"].value("source", "") : "";
                rows.push_back({p.value("name", ""), p.value("driver", ""), source, p.value("description", ""),
                                std::to_string(p.value("used_by", json::array()).size()), p.value("status", "")});
            }
            print(ctx.out, render_listing(pools, o->format, {"NAME", "DRIVER", "SOURCE", "DESCRIPTION", "USED BY", "STATE"},
                                          std::move(rows)));
            return 0;
        });
    }
    {
        auto o = std::make_shared<StorageOpts>();
        auto* sub = storage->add_subcommand("create", "Create a storage pool: NAME DRIVER [source=DIR] [key=value...]");
        sub->add_option("name", o->name, "Pool name")->required();
        sub->add_option("driver", o->driver, "dir, overlay or btrfs")->required();
        sub->add_option("config", o->config, "key=value (source=/path)");
        sub->add_option("--description", o->description, "Description");
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(json cfg, key_values(o->config));
            json body{{"name", o->name}, {"driver", o->driver}, {"description", o->description}, {"config", cfg}};
            LXM_TRY_VOID(ctx.run("POST", "/1.0/storage-pools", body));
            print(ctx.out, "Storage pool " + o->name + " created\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<StorageOpts>();
        auto* sub = storage->add_subcommand("show", "Show a storage pool's configuration (YAML)");
        sub->add_option("name", o->name, "Pool name")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto p, c->get(pool_url(o->name)));
            print(ctx.out, to_yaml(p));
            return 0;
        });
    }
    {
        auto o = std::make_shared<StorageOpts>();
        auto* sub = storage->add_subcommand("info", "Show a storage pool's usage and volumes");
        sub->add_option("name", o->name, "Pool name")->required();
        sub->add_flag("--bytes", o->bytes, "Sizes in bytes");
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto p, c->get(pool_url(o->name)));
            LXM_TRY(auto res, c->get(pool_url(o->name) + "/resources"));
            LXM_TRY(auto vols, c->get(pool_url(o->name) + "/volumes?recursion=1"));
            std::string out = "info:\n";
            out += "  name: " + p.value("name", "") + "\n";
            out += "  driver: " + p.value("driver", "") + "\n";
            out += "  description: \"" + p.value("description", "") + "\"\n";
            if (p.contains("config") && p["config"].is_object())
                out += "  source: " + p["config"].value("source", "") + "\n";
            auto space = res.value("space", json::object());
            out += "  space used: " + size_text(space.value("used", uint64_t{0}), o->bytes) + "\n";
            out += "  total space: " + size_text(space.value("total", uint64_t{0}), o->bytes) + "\n";
            out += "used by:\n";
            std::map<std::string, std::vector<std::string>> by_type;
            for (auto& v : vols) {
                std::string t = v.value("type", "");
                std::string n = v.value("name", "");
                if (t == "container" && n.find('/') != std::string::npos) t = "snapshots";
                else if (t == "container") t = "instances";
                else if (t == "image") t = "images";
                if (v.contains("config") && v["config"].is_object() && v["config"].contains("volatile.usage")) {
                    std::string u = v["config"].value("volatile.usage", "0");
                    n += " (" + size_text(std::stoull(u.empty() ? "0" : u), o->bytes) + ")";
                }
                by_type[t].push_back(n);
            }
            for (const auto& [t, names] : by_type) {
                out += "  " + t + ":\n";
                for (const auto& n : names) out += "  - " + n + "\n";
            }
            print(ctx.out, out);
            return 0;
        });
    }
    {
        auto o = std::make_shared<StorageOpts>();
        auto* sub = storage->add_subcommand("delete", "Delete a storage pool (it must have no instances)");
        sub->alias("rm");
        sub->add_option("name", o->name, "Pool name")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY_VOID(ctx.run("DELETE", pool_url(o->name)));
            print(ctx.out, "Storage pool " + o->name + " deleted\n");
            return 0;
        });
    }
}

}  // namespace lxm::cli
