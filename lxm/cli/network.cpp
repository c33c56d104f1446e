// network list/show/create/delete/rename/set/unset/get/edit/info/list-leases/attach/detach.
// Writes follow lxc: GET with its ETag, change the writable part, PUT with If-Match.
#include <algorithm>

#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"
#include "lxm/cli/yaml.hpp"

namespace lxm::cli {

namespace {

std::string network_url(const std::string& name) { return "/1.0/networks/" + url_escape(name); }

json network_writable(const json& n) {
    return {{"config", n.value("config", json::object())}, {"description", n.value("description", "")}};
}

base::Result<std::pair<json, std::string>> get_etag(Context& ctx, const std::string& url) {
    LXM_TRY(auto* c, ctx.client());
    LXM_TRY(auto r, c->query("GET", url));
    return std::pair{std::move(r.metadata), std::move(r.etag)};
}

base::Result<void> put_etag(Context& ctx, const std::string& url, const json& body, const std::string& etag) {
    LXM_TRY(auto* c, ctx.client());
    std::map<std::string, std::string> headers;
    if (!etag.empty()) headers["If-Match"] = "\"" + etag + "\"";
    LXM_TRY(auto r, c->query("PUT", url, body, headers));
    LXM_TRY_VOID(ctx.wait(r));
    return {};
}

// Apply fn to the writable part of a network and PUT it back.
base::Result<void> update_network(Context& ctx, const std::string& name, const std::function<base::Result<void>(json&)>& fn) {
    std::string url = network_url(name);
    LXM_TRY(auto got, get_etag(ctx, url));
    json w = network_writable(got.first);
    LXM_TRY_VOID(fn(w));
    return put_etag(ctx, url, w, got.second);
}

// The same for an instance's devices (attach/detach).
base::Result<void> update_devices(Context& ctx, const std::string& instance, const std::function<base::Result<void>(json&)>& fn) {
    std::string url = instance_url(instance);
    LXM_TRY(auto got, get_etag(ctx, url));
    const json& i = got.first;
    json w = {{"architecture", i.value("architecture", "")}, {"config", i.value("config", json::object())},
              {"devices", i.value("devices", json::object())}, {"ephemeral", i.value("ephemeral", false)},
              {"profiles", i.value("profiles", json::array())}, {"stateful", i.value("stateful", false)},
              {"description", i.value("description", "")}};
    LXM_TRY_VOID(fn(w["devices"]));
    return put_etag(ctx, url, w, got.second);
}

std::string str(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return "";
    return it->is_string() ? it->get<std::string>() : it->dump();
}

struct NetOpts {
    std::string name;
    std::vector<std::string> args;
    std::string format = "table";
    std::string description;
    std::string type = "bridge";
};

void add_list_show(CLI::App* network, Context& ctx, Action& chosen) {
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("list", "List networks");
        sub->alias("ls");
        sub->add_option("-f,--format", o->format, "table, csv, json, yaml")->check(CLI::IsMember({"table", "csv", "json", "yaml"}));
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto list, c->get("/1.0/networks?recursion=1"));
            std::vector<Row> rows;
            for (auto& n : list) {
                json cfg = n.value("config", json::object());
                auto used = n.value("used_by", json::array());
                rows.push_back({str(n, "name"), str(n, "type"), n.value("managed", false) ? "YES" : "NO",
                                str(cfg, "ipv4.address"), str(cfg, "ipv6.address"), str(n, "description"),
                                std::to_string(used.is_array() ? used.size() : 0), str(n, "status")});
            }
            print(ctx.out, render_listing(list, o->format,
                                          {"NAME", "TYPE", "MANAGED", "IPV4", "IPV6", "DESCRIPTION", "USED BY", "STATE"},
                                          std::move(rows)));
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("show", "Show a network (YAML)");
        sub->add_option("name", o->name, "Network")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto n, c->get(network_url(o->name)));
            json show = network_writable(n);
            for (const char* k : {"name", "type", "used_by", "managed", "status", "locations"})
                if (n.contains(k)) show[k] = n[k];
            print(ctx.out, to_yaml(show));
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("get", "Get a network config value: network get NAME KEY");
        sub->add_option("name", o->name, "Network")->required();
        sub->add_option("key", o->args, "Key")->required()->expected(1);
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto n, c->get(network_url(o->name)));
            print(ctx.out, str(n.value("config", json::object()), o->args[0].c_str()) + "\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("info", "Show a network's runtime state (link, addresses, counters)");
        sub->add_option("name", o->name, "Network")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto s, c->get(network_url(o->name) + "/state"));
            std::string out = "Name: " + o->name + "\n";
            out += "MAC address: " + str(s, "hwaddr") + "\n";
            out += "MTU: " + str(s, "mtu") + "\n";
            out += "State: " + str(s, "state") + "\n";
            out += "Type: " + str(s, "type") + "\n";
            auto addrs = s.value("addresses", json::array());
            if (!addrs.empty()) {
                out += "\nIP addresses:\n";
                for (const auto& a : addrs)
                    out += "  " + str(a, "family") + "\t" + str(a, "address") + "/" + str(a, "netmask") + " (" +
                           str(a, "scope") + ")\n";
            }
            json cnt = s.value("counters", json::object());
            out += "\nNetwork usage:\n";
            out += "  Bytes received: " + format_size(cnt.value("bytes_received", int64_t{0})) + "\n";
            out += "  Bytes sent: " + format_size(cnt.value("bytes_sent", int64_t{0})) + "\n";
            out += "  Packets received: " + std::to_string(cnt.value("packets_received", int64_t{0})) + "\n";
            out += "  Packets sent: " + std::to_string(cnt.value("packets_sent", int64_t{0})) + "\n";
            print(ctx.out, out);
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("list-leases", "List the DHCP leases of a network");
        sub->add_option("name", o->name, "Network")->required();
        sub->add_option("-f,--format", o->format, "table, csv, json, yaml")->check(CLI::IsMember({"table", "csv", "json", "yaml"}));
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto list, c->get(network_url(o->name) + "/leases"));
            std::vector<Row> rows;
            for (auto& l : list)
                rows.push_back({str(l, "hostname"), str(l, "hw_address"), str(l, "address"), str(l, "type")});
            print(ctx.out, render_listing(list, o->format, {"HOSTNAME", "MAC ADDRESS", "IP ADDRESS", "TYPE"}, std::move(rows)));
            return 0;
        });
    }
}

void add_changes(CLI::App* network, Context& ctx, Action& chosen) {
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("create", "Create a network: network create NAME [KEY=VALUE...]");
        sub->add_option("name", o->name, "Network")->required();
        sub->add_option("config", o->args, "KEY=VALUE pairs");
        sub->add_option("--description", o->description, "Description");
        sub->add_option("-t,--type", o->type, "Network type (bridge)");
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY(json cfg, key_values(o->args));
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto r, c->post("/1.0/networks", json{{"name", o->name}, {"description", o->description},
                                                           {"type", o->type}, {"config", cfg}}));
            LXM_TRY_VOID(ctx.wait(r));
            print(ctx.out, "Network " + o->name + " created\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("delete", "Delete a network");
        sub->alias("rm");
        sub->add_option("name", o->name, "Network")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY_VOID(ctx.run("DELETE", network_url(o->name)));
            print(ctx.out, "Network " + o->name + " deleted\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("rename", "Rename a network (not while in use): network rename OLD NEW");
        sub->add_option("name", o->name, "Network")->required();
        sub->add_option("new", o->args, "New name")->required()->expected(1);
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY_VOID(ctx.run("POST", network_url(o->name), json{{"name", o->args[0]}}));
            print(ctx.out, "Network " + o->name + " renamed to " + o->args[0] + "\n");
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("set", "Set network config: network set NAME KEY VALUE | KEY=VALUE...");
        sub->add_option("name", o->name, "Network")->required();
        sub->add_option("args", o->args, "KEY VALUE, or KEY=VALUE pairs")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            json kv = json::object();
            if (o->args.size() == 2 && o->args[0].find('=') == std::string::npos) {
                kv[o->args[0]] = o->args[1];
            } else {
                LXM_TRY(kv, key_values(o->args));
            }
            LXM_TRY_VOID(update_network(ctx, o->name, [&](json& w) -> base::Result<void> {
                for (auto& [k, v] : kv.items()) w["config"][k] = v;
                return {};
            }));
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("unset", "Remove a network config key");
        sub->add_option("name", o->name, "Network")->required();
        sub->add_option("key", o->args, "Key")->required()->expected(1);
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY_VOID(update_network(ctx, o->name, [&](json& w) -> base::Result<void> {
                if (!w["config"].contains(o->args[0]))
                    return user_error("can't unset key '" + o->args[0] + "', it's not currently set");
                w["config"].erase(o->args[0]);
                return {};
            }));
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("edit", "Edit a network as YAML in $EDITOR (or read it from stdin)");
        sub->add_option("name", o->name, "Network")->required();
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            std::string url = network_url(o->name);
            LXM_TRY(auto got, get_etag(ctx, url));
            LXM_TRY(auto text, edit_text(to_yaml(network_writable(got.first))));
            auto j = parse_yaml(text);
            if (!j) return user_error(j.error().context);
            if (!j->is_object()) return user_error("the edited text is not a YAML mapping");
            stringify_config(*j);
            json w = network_writable(*j);
            LXM_TRY_VOID(put_etag(ctx, url, w, got.second));
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("attach", "Attach a network to an instance: network attach NETWORK INSTANCE [DEVICE [INTERFACE]]");
        sub->add_option("name", o->name, "Network")->required();
        sub->add_option("args", o->args, "INSTANCE [DEVICE [INTERFACE]]")->required()->expected(1, 3);
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            std::string dev = o->args.size() > 1 ? o->args[1] : o->name;
            std::string iface = o->args.size() > 2 ? o->args[2] : dev;
            LXM_TRY_VOID(update_devices(ctx, o->args[0], [&](json& devs) -> base::Result<void> {
                if (devs.contains(dev)) return user_error("The device already exists");
                devs[dev] = json{{"type", "nic"}, {"network", o->name}, {"name", iface}};
                return {};
            }));
            return 0;
        });
    }
    {
        auto o = std::make_shared<NetOpts>();
        auto* sub = network->add_subcommand("detach", "Detach a network from an instance: network detach NETWORK INSTANCE [DEVICE]");
        sub->add_option("name", o->name, "Network")->required();
        sub->add_option("args", o->args, "INSTANCE [DEVICE]")->required()->expected(1, 2);
        on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
            LXM_TRY_VOID(update_devices(ctx, o->args[0], [&](json& devs) -> base::Result<void> {
                std::string dev = o->args.size() > 1 ? o->args[1] : "";
                if (dev.empty())
                    for (auto& [k, v] : devs.items())
                        if (v.is_object() && v.value("type", "") == "nic" && v.value("network", "") == o->name) dev = k;
                if (dev.empty() || !devs.contains(dev))
                    return user_error("No device found for this network (a nic inherited from a profile is "
                                      "changed in the profile)");
                if (devs[dev].value("network", "") != o->name)
                    return user_error("The specified device doesn't match the network");
                devs.erase(dev);
                return {};
            }));
            return 0;
        });
    }
}

}  // namespace

void add_network_commands(CLI::App& app, Context& ctx, Action& chosen) {
    auto* network = app.add_subcommand("network", "Manage networks");
    network->require_subcommand(1);
    add_list_show(network, ctx, chosen);
    add_changes(network, ctx, chosen);
}

}  // namespace lxm::cli
