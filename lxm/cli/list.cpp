// list and info: one GET /1.0/instances?recursion=2 (container_full) for the list,
// as lxc does; per-instance state/snapshots GETs when the server returned less.
#include <algorithm>
#include <regex>
#include <set>

#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"
#include "lxm/cli/list_fetch.hpp"

namespace lxm::cli {

namespace {

struct ListOpts {
    std::vector<std::string> filters;
    std::string format = "table";
    std::string columns = "ns46tS";
};

// lxc list filters: a bare word matches names by regex prefix; key=value matches
// status/type or a config key (expanded config).
bool matches(const json& inst, const std::string& filter) {
    auto eq = filter.find('=');
    if (eq == std::string::npos) {
        std::string name = inst.value("name", "");
        try {
            return std::regex_search(name, std::regex("^(" + filter + ")"));
        } catch (const std::regex_error&) {
            return name.starts_with(filter);
        }
    }
    std::string key = filter.substr(0, eq), value = filter.substr(eq + 1);
    auto lower = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    if (key == "status" || key == "state") return lower(inst.value("status", "")) == lower(value);
    if (key == "type") return lower(inst.value("type", "")) == lower(value);
    if (key == "name") return inst.value("name", "") == value;
    for (const char* field : {"expanded_config", "config"}) {
        auto c = inst.find(field);
        if (c != inst.end() && c->is_object() && c->contains(key)) return (*c)[key] == value;
    }
    return false;
}

// The instance fields a list needs: what its columns and filters read (all for JSON/YAML).
ListFields list_fields(const ListOpts& o, const std::vector<Column>& cols) {
    ListFields f;
    if (o.format == "json" || o.format == "yaml") return f;
    f.all = false;
    f.snapshot_bodies = false;
    f.keys = {"name"};  // sorting
    auto state = [&f](const char* key) {
        f.keys.insert({"status", "state"});
        f.state_keys.insert(key);
    };
    for (const auto& c : cols) {
        switch (c.key) {
            case 'n': break;
            case 's': f.keys.insert("status"); break;
            case '4':
            case '6': state("network"); break;
            case 't': f.keys.insert({"type", "ephemeral"}); break;
            case 'S': f.keys.insert("snapshots"); break;
            case 'p': state("pid"); break;
            case 'P': f.keys.insert("profiles"); break;
            case 'a': f.keys.insert("architecture"); break;
            case 'c': f.keys.insert("created_at"); break;
            case 'l': f.keys.insert("last_used_at"); break;
            case 'd': f.keys.insert("description"); break;
            case 'm': state("memory"); break;
            case 'N': state("processes"); break;
            case 'u': state("cpu"); break;
            default: return ListFields{};  // a column this list does not know: keep everything
        }
    }
    for (const auto& flt : o.filters)
        if (flt.find('=') != std::string::npos) f.keys.insert({"status", "type", "config", "expanded_config"});
    return f;
}

base::Result<json> fetch_instances(Context& ctx, const ListFields& fields) {
    LXM_TRY(auto* c, ctx.client());
    LXM_TRY(auto raw, c->raw("GET", "/1.0/instances?recursion=2&filter="));
    LXM_TRY(auto list, parse_instance_list(raw.body, fields));
    auto keep = [&fields](const char* k) { return fields.all || fields.keys.count(k); };
    for (auto& inst : list) {
        if (!inst.is_object()) return user_error("unexpected answer to GET /1.0/instances");
        // A server without container_full (recursion=2) sends less: ask per instance.
        std::string base = instance_url(inst.value("name", ""));
        if (!inst.contains("state") && keep("state")) {
            auto st = c->get(base + "/state");
            if (st) inst["state"] = *st;
        }
        if (!inst.contains("snapshots") && keep("snapshots")) {
            auto sn = c->get(base + "/snapshots");
            if (sn) inst["snapshots"] = *sn;
        }
    }
    // By name; the instances are moved, never copied (a list can hold thousands).
    std::vector<std::pair<std::string, size_t>> order;
    order.reserve(list.size());
    for (size_t k = 0; k < list.size(); ++k) {
        auto n = list[k].find("name");
        order.emplace_back(n != list[k].end() && n->is_string() ? n->get<std::string>() : std::string(), k);
    }
    std::sort(order.begin(), order.end());
    json sorted = json::array();
    sorted.get_ref<json::array_t&>().reserve(order.size());
    for (const auto& o : order) sorted.push_back(std::move(list[o.second]));
    return sorted;
}

void add_list(CLI::App& app, Context& ctx, Action& chosen) {
    auto o = std::make_shared<ListOpts>();
    auto* sub = app.add_subcommand("list", "List instances");
    sub->alias("ls");
    sub->add_option("filters", o->filters, "Name prefixes (regex) or key=value filters")->transform(remote_arg(ctx));
    sub->add_option("-f,--format", o->format, "Output format: table, compact, csv, json, yaml")
        ->check(CLI::IsMember({"table", "compact", "csv", "json", "yaml"}));
    sub->add_option("-c,--columns", o->columns,
                    "Columns (shorthand): n name, s state, 4 IPv4, 6 IPv6, t type, S snapshots, p PID, "
                    "P profiles, a architecture, c created, l last used, d description, m memory, N processes, "
                    "u CPU");
    on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
        auto cols = parse_columns(o->columns);
        if (!cols) return user_error(cols.error().context);
        // Only what the output needs becomes a JSON tree: the columns' fields (and the config for
        // key=value filters) for a table or CSV, everything for JSON and YAML.
        LXM_TRY(auto list, fetch_instances(ctx, list_fields(*o, *cols)));
        json selected = json::array();
        for (auto& inst : list) {
            bool ok = true;
            for (auto& f : o->filters) ok = ok && matches(inst, f);
            if (ok) selected.push_back(std::move(inst));
        }
        if (o->format == "json") {
            print(ctx.out, selected.dump() + "\n");
            return 0;
        }
        if (o->format == "yaml") {
            print(ctx.out, to_yaml(selected));
            return 0;
        }
        std::vector<Row> rows;
        for (auto& inst : selected) {
            Row r;
            for (auto& c : *cols) r.push_back(column_value(c, inst));
            rows.push_back(std::move(r));
        }
        if (o->format == "csv") {
            print(ctx.out, render_csv(rows));
            return 0;
        }
        Row header;
        for (auto& c : *cols) header.push_back(c.header);
        if (o->format == "compact") {
            // Same layout without borders.
            std::string t = render_table(header, rows);
            std::string out;
            size_t start = 0;
            while (start < t.size()) {
                auto nl = t.find('\n', start);
                std::string line = t.substr(start, nl - start);
                start = nl + 1;
                if (line.starts_with("+")) continue;
                std::string l;
                for (size_t i = 1; i + 1 < line.size(); ++i) l += line[i] == '|' ? ' ' : line[i];
                out += l + "\n";
            }
            print(ctx.out, out);
            return 0;
        }
        print(ctx.out, render_table(header, rows));
        return 0;
    });
}

std::string short_time(const json& t) {
    if (!t.is_string()) return "";
    std::string s = t.get<std::string>();
    if (s.size() < 19 || s.starts_with("0001-01-01")) return "";
    std::string d = s.substr(0, 10);
    std::replace(d.begin(), d.end(), '-', '/');
    return d + " " + s.substr(11, 5) + " UTC";
}

struct InfoOpts {
    std::string name;
    bool show_log = false;
};

void add_info(CLI::App& app, Context& ctx, Action& chosen) {
    auto o = std::make_shared<InfoOpts>();
    auto* sub = app.add_subcommand("info", "Show an instance's status, resources and snapshots");
    sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
    sub->add_flag("--show-log", o->show_log, "Show the instance's console log too");
    on_run(sub, chosen, [&ctx, o]() -> base::Result<int> {
        LXM_TRY(auto* c, ctx.client());
        std::string base = instance_url(o->name);
        LXM_TRY(auto inst, c->get(base));
        LXM_TRY(auto st, c->get(base + "/state"));
        auto snaps = c->get(base + "/snapshots?recursion=1");
        std::string s;
        std::string status = inst.value("status", "");
        for (auto& ch : status) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        s += "Name: " + inst.value("name", "") + "\n";
        s += "Status: " + status + "\n";
        std::string type = inst.value("type", "container");
        if (inst.value("ephemeral", false)) type += " (ephemeral)";
        s += "Type: " + type + "\n";
        s += "Architecture: " + inst.value("architecture", "") + "\n";
        int64_t pid = st.value("pid", int64_t{0});
        if (pid > 0) s += "PID: " + std::to_string(pid) + "\n";
        s += "Created: " + short_time(inst.value("created_at", json())) + "\n";
        std::string last = short_time(inst.value("last_used_at", json()));
        if (!last.empty()) s += "Last Used: " + last + "\n";
        if (auto d = inst.value("description", ""); !d.empty()) s += "Description: " + d + "\n";

        if (inst.value("status", "") == "Running" || inst.value("status", "") == "Frozen") {
            s += "\nResources:\n";
            s += "  Processes: " + std::to_string(st.value("processes", int64_t{0})) + "\n";
            if (st.contains("disk") && st["disk"].is_object() && !st["disk"].empty()) {
                s += "  Disk usage:\n";
                for (auto& [dev, d] : st["disk"].items())
                    s += "    " + dev + ": " + format_size(d.value("usage", int64_t{0})) + "\n";
            }
            if (st.contains("cpu") && st["cpu"].is_object()) {
                s += "  CPU usage:\n";
                s += "    CPU usage (in seconds): " +
                     std::to_string(st["cpu"].value("usage", int64_t{0}) / 1000000000) + "\n";
            }
            if (st.contains("memory") && st["memory"].is_object()) {
                auto& m = st["memory"];
                s += "  Memory usage:\n";
                s += "    Memory (current): " + format_size(m.value("usage", int64_t{0})) + "\n";
                if (m.value("usage_peak", int64_t{0}) > 0)
                    s += "    Memory (peak): " + format_size(m.value("usage_peak", int64_t{0})) + "\n";
                if (m.value("swap_usage", int64_t{0}) > 0)
                    s += "    Swap (current): " + format_size(m.value("swap_usage", int64_t{0})) + "\n";
            }
            if (st.contains("network") && st["network"].is_object() && !st["network"].empty()) {
                s += "  Network usage:\n";
                for (auto& [ifname, n] : st["network"].items()) {
                    s += "    " + ifname + ":\n";
                    s += "      Type: " + n.value("type", "") + "\n";
                    std::string state = n.value("state", "");
                    for (auto& ch : state) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                    s += "      State: " + state + "\n";
                    if (auto h = n.value("host_name", ""); !h.empty()) s += "      Host interface: " + h + "\n";
                    if (auto mac = n.value("hwaddr", ""); !mac.empty()) s += "      MAC address: " + mac + "\n";
                    s += "      MTU: " + std::to_string(n.value("mtu", 0)) + "\n";
                    if (n.contains("counters") && n["counters"].is_object()) {
                        auto& ct = n["counters"];
                        s += "      Bytes received: " + format_size(ct.value("bytes_received", int64_t{0})) + "\n";
                        s += "      Bytes sent: " + format_size(ct.value("bytes_sent", int64_t{0})) + "\n";
                        s += "      Packets received: " + std::to_string(ct.value("packets_received", int64_t{0})) + "\n";
                        s += "      Packets sent: " + std::to_string(ct.value("packets_sent", int64_t{0})) + "\n";
                    }
                    if (n.contains("addresses") && n["addresses"].is_array() && !n["addresses"].empty()) {
                        s += "      IP addresses:\n";
                        for (auto& a : n["addresses"])
                            s += "        " + a.value("family", "") + ":  " + a.value("address", "") + "/" +
                                 a.value("netmask", "") + " (" + a.value("scope", "") + ")\n";
                    }
                }
            }
        }
        if (snaps && snaps->is_array() && !snaps->empty()) {
            s += "\nSnapshots:\n";
            std::vector<Row> rows;
            for (auto& sn : *snaps) {
                std::string name = sn.value("name", "");
                if (auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
                rows.push_back({name, short_time(sn.value("created_at", json())),
                                short_time(sn.value("expires_at", json())), sn.value("stateful", false) ? "YES" : "NO"});
            }
            s += render_table({"NAME", "TAKEN AT", "EXPIRES AT", "STATEFUL"}, rows);
        }
        print(ctx.out, s);
        if (o->show_log) {
            auto log = c->raw("GET", base + "/console");
            if (log) {
                print(ctx.out, "\nLog:\n\n" + log->body);
                if (!log->body.empty() && log->body.back() != '\n') print(ctx.out, "\n");
            } else {
                print(ctx.err, "Error: " + error_text(log.error()) + "\n");
                return 1;
            }
        }
        return 0;
    });
}

}  // namespace

void add_list_commands(CLI::App& app, Context& ctx, Action& chosen) {
    add_list(app, ctx, chosen);
    add_info(app, ctx, chosen);
}

}  // namespace lxm::cli
