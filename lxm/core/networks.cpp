#include "lxm/core/networks.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <set>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "netd/nic_plug.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/proxy.hpp"
#include "lxm/runtime/monitor_client.hpp"
#include "netd/link.hpp"
#include "store/networks.hpp"
#include "store/instances.hpp"
#include "store/profiles.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;
using json = nlohmann::json;

namespace {

constexpr const char* kProject = "default";

bool is_nic_on(const store::ConfigMap& dev, const std::string& network) {
    auto t = dev.find("type");
    auto n = dev.find("network");
    return t != dev.end() && t->second == "nic" && n != dev.end() && n->second == network;
}

bool has_nic(const store::DeviceMap& devices) {
    return std::any_of(devices.begin(), devices.end(), [](const auto& d) {
        auto t = d.second.find("type");
        return t != d.second.end() && t->second == "nic";
    });
}

Result<store::ConfigMap> config_of(const json& body) {
    store::ConfigMap cfg;
    if (!body.contains("config") || body["config"].is_null()) return cfg;
    if (!body["config"].is_object()) return http_error(400, "config must be an object");
    for (const auto& [k, v] : body["config"].items()) {
        if (v.is_string()) cfg[k] = v.get<std::string>();
        else if (v.is_boolean()) cfg[k] = v.get<bool>() ? "true" : "false";
        else if (v.is_number()) cfg[k] = v.dump();
        else if (!v.is_null()) return http_error(400, "config value of " + k + " must be a string");
    }
    return cfg;
}

// A validation error's own sentence (without the errno text).
std::string text_of(const base::Error& e) { return e.context.empty() ? e.message() : e.context; }

// Kernel/netd errors of a request are the user's (bad config, name taken) when their code says so.
base::Unexpected user_error(const base::Error& e) {
    if (e.code == std::errc::invalid_argument) return http_error(400, e.message());
    if (e.code == std::errc::file_exists) return http_error(409, e.message());
    if (e.code == std::errc::device_or_resource_busy) return http_error(400, e.message());
    return std::unexpected(e);
}

}  // namespace

Networks::Networks(DaemonState& state, NetworksOptions opts) : state_(state), opts_(std::move(opts)) {
    netd::NetworkManager::Options mo;
    mo.state_dir = state_.paths().root + "/networks";
    mo.nft_table = opts_.nft_table;
    mgr_ = std::make_unique<netd::NetworkManager>(mo);
    // lxm-proxy is installed beside lxm-monitor.
    const std::string& mon = state_.monitor_bin();
    relays_ = std::make_unique<ProxyRelays>(mon.substr(0, mon.rfind('/') + 1) + "lxm-proxy", state_.paths());
}

Networks::~Networks() { detach(); }

void Networks::detach() {
    if (mgr_) mgr_->detach();
}

Result<void> Networks::startup() {
    LXM_TRY(auto recs, state_.store().read([](store::Transaction& tx) { return store::list_networks(tx); }));
    for (const auto& r : recs) {
        if (auto s = mgr_->start(r.name, r.config); !s) {
            LXM_WARN("network {}: start: {}", r.name, s.error().message());
            (void)state_.store().transaction(
                [&](store::Transaction& tx) { return store::set_network_status(tx, r.name, "errored"); });
        } else if (r.status != "created") {
            (void)state_.store().transaction(
                [&](store::Transaction& tx) { return store::set_network_status(tx, r.name, "created"); });
        }
    }
    // First start: the default network and the default profile's eth0. The
    // server config key remembers that it was done (a deleted default network
    // is not re-created).
    const std::string& dn = opts_.default_network;
    if (dn.empty()) return {};
    LXM_TRY(auto done, state_.store().read([&](store::Transaction& tx) -> Result<bool> {
        LXM_TRY(auto names, store::list_network_names(tx));
        return std::find(names.begin(), names.end(), dn) != names.end();
    }));
    if (!done) {
        json body{{"name", dn},
                  {"description", "lxm default network"},
                  {"config", {{"ipv4.address", "auto"}, {"ipv4.nat", "true"}, {"ipv6.address", "none"}}}};
        if (auto r = create(body); !r) return std::unexpected(base::wrap(r.error(), "default network " + dn));
        LXM_INFO("created the default network {}", dn);
        LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
            LXM_TRY(auto p, store::get_profile(tx, kProject, "default"));
            if (has_nic(p.devices)) return {};
            p.devices["eth0"] = {{"type", "nic"}, {"network", dn}, {"name", "eth0"}};
            return store::update_profile(tx, p);
        }));
    }
    return {};
}

void Networks::check() {
    sync_all_proxies();
    auto r = mgr_->check_and_restart();
    if (!r) LXM_WARN("networks: check: {}", r.error().message());
    else
        for (const auto& n : *r) LXM_WARN("network {}: dnsmasq was not running: restarted", n);
    for (const auto& n : mgr_->take_notices()) LXM_INFO("networks: {}", n);
}

json Networks::to_json(const std::string& name, const std::string& type, const std::string& description,
                       const std::string& status, const store::ConfigMap& config,
                       const std::vector<std::string>& used_by) const {
    std::string st = status == "created" ? "Created" : status == "errored" ? "Errored" : "Pending";
    return json{{"name", name},         {"description", description}, {"type", type},
                {"managed", true},      {"status", st},                {"config", config},
                {"used_by", used_by},   {"locations", json::array({"none"})}, {"project", kProject}};
}

Result<std::vector<std::string>> Networks::used_by(const std::string& name) {
    return state_.store().read([&](store::Transaction& tx) -> Result<std::vector<std::string>> {
        std::vector<std::string> out;
        LXM_TRY(auto profiles, store::list_profiles(tx, kProject));
        for (const auto& p : profiles)
            for (const auto& [dev, keys] : p.devices)
                if (is_nic_on(keys, name)) {
                    out.push_back("/1.0/profiles/" + p.name);
                    break;
                }
        LXM_TRY(auto insts, store::list_instances(tx, std::string_view(kProject)));
        for (const auto& i : insts)
            for (const auto& [dev, keys] : i.devices)
                if (is_nic_on(keys, name)) {
                    out.push_back("/1.0/instances/" + i.name);
                    break;
                }
        return out;
    });
}

Result<std::vector<std::string>> Networks::names() {
    return state_.store().read([](store::Transaction& tx) { return store::list_network_names(tx); });
}

Result<json> Networks::get(const std::string& name) {
    auto rec = state_.store().read([&](store::Transaction& tx) { return store::get_network(tx, name); });
    if (!rec) {
        if (rec.error().code == std::errc::no_such_file_or_directory) return http_error(404, "Network not found");
        return std::unexpected(rec.error());
    }
    LXM_TRY(auto ub, used_by(name));
    return to_json(rec->name, rec->type, rec->description, rec->status, rec->config, ub);
}

Result<std::vector<json>> Networks::list() {
    LXM_TRY(auto ns, names());
    std::vector<json> out;
    for (const auto& n : ns) {
        auto j = get(n);
        if (!j) {
            if (apitypes::http_status_of(j.error()) == 404) continue;
            return std::unexpected(j.error());
        }
        out.push_back(std::move(*j));
    }
    return out;
}

Result<json> Networks::etag_state(const std::string& name) {
    LXM_TRY(json j, get(name));
    return json{{"description", j["description"]}, {"config", j["config"]}};
}

Result<void> Networks::create(const json& body) {
    if (!body.is_object()) return http_error(400, "The request body must be a JSON object");
    std::string name = body.value("name", "");
    std::string type = body.value("type", "bridge");
    if (type.empty()) type = "bridge";
    if (name.empty()) return http_error(400, "No name provided");
    if (type != "bridge") return http_error(400, "Only bridge networks are supported");
    if (name.size() > 15 || name.find_first_of("/ :") != std::string::npos)
        return http_error(400, "Network name must be a valid interface name (at most 15 characters)");
    LXM_TRY(store::ConfigMap cfg, config_of(body));
    if (auto v = netd::validate_network_config(name, cfg); !v) return http_error(400, text_of(v.error()));
    LXM_TRY(auto existing, names());
    if (std::find(existing.begin(), existing.end(), name) != existing.end())
        return http_error(409, "Network \"" + name + "\" already exists");
    store::NetworkRecord rec;
    rec.name = name;
    rec.type = type;
    rec.description = body.value("description", "");
    rec.status = "pending";
    rec.config = cfg;
    // Row first (pending), then the kernel side, then the filled config: a kill in
    // between leaves a row that startup() brings up.
    LXM_TRY_VOID(state_.store().transaction(
        [&](store::Transaction& tx) -> Result<void> {
            LXM_TRY(int64_t id, store::create_network(tx, rec));
            (void)id;
            return {};
        }));
    auto filled = mgr_->create(name, cfg);
    if (!filled) {
        (void)state_.store().transaction([&](store::Transaction& tx) { return store::delete_network(tx, name); });
        return user_error(filled.error());
    }
    rec.config = *filled;
    rec.status = "created";
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) { return store::update_network(tx, rec); }));
    for (const auto& n : mgr_->take_notices()) LXM_INFO("networks: {}", n);
    return {};
}

Result<void> Networks::update(const std::string& name, const json& body) {
    if (!body.is_object()) return http_error(400, "The request body must be a JSON object");
    auto rec = state_.store().read([&](store::Transaction& tx) { return store::get_network(tx, name); });
    if (!rec) {
        if (rec.error().code == std::errc::no_such_file_or_directory) return http_error(404, "Network not found");
        return std::unexpected(rec.error());
    }
    LXM_TRY(store::ConfigMap cfg, config_of(body));
    if (auto v = netd::validate_network_config(name, cfg); !v) return http_error(400, text_of(v.error()));
    auto filled = mgr_->update(name, cfg);
    if (!filled) return user_error(filled.error());
    rec->config = *filled;
    if (body.contains("description") && body["description"].is_string()) rec->description = body["description"];
    rec->status = "created";
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) { return store::update_network(tx, *rec); }));
    for (const auto& n : mgr_->take_notices()) LXM_INFO("networks: {}", n);
    return {};
}

Result<void> Networks::remove(const std::string& name) {
    LXM_TRY(json cur, get(name));
    if (!cur["used_by"].empty()) return http_error(400, "The network is currently in use");
    auto r = mgr_->remove(name, false);
    if (!r && r.error().code != std::errc::no_such_file_or_directory) return user_error(r.error());
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) { return store::delete_network(tx, name); }));
    return {};
}

Result<void> Networks::rename(const std::string& name, const std::string& new_name) {
    if (new_name.empty()) return http_error(400, "No name provided");
    if (new_name.size() > 15 || new_name.find_first_of("/ :") != std::string::npos)
        return http_error(400, "Network name must be a valid interface name (at most 15 characters)");
    LXM_TRY(json cur, get(name));
    if (!cur["used_by"].empty()) return http_error(400, "Cannot rename network when in use");
    if (new_name == name) return {};
    LXM_TRY(auto existing, names());
    if (std::find(existing.begin(), existing.end(), new_name) != existing.end())
        return http_error(409, "Network \"" + new_name + "\" already exists");
    LXM_TRY(store::NetworkRecord rec, state_.store().read([&](store::Transaction& tx) { return store::get_network(tx, name); }));
    if (auto v = netd::validate_network_config(new_name, rec.config); !v) return http_error(400, text_of(v.error()));
    // Kernel side down under the old name, row renamed, up again under the new one; a
    // failure brings the old network back.
    if (auto r = mgr_->remove(name, false); !r && r.error().code != std::errc::no_such_file_or_directory)
        return user_error(r.error());
    base::Reverter rev;
    rev.add([this, rec] { (void)mgr_->create(rec.name, rec.config); });
    LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) { return store::rename_network(tx, name, new_name); }));
    rev.add([this, name, new_name] {
        (void)state_.store().transaction([&](store::Transaction& tx) { return store::rename_network(tx, new_name, name); });
    });
    auto filled = mgr_->create(new_name, rec.config);
    if (!filled) return user_error(filled.error());
    rev.success();
    for (const auto& n : mgr_->take_notices()) LXM_INFO("networks: {}", n);
    return {};
}

Result<json> Networks::leases(const std::string& name) {
    LXM_TRY(json cur, get(name));
    LXM_TRY(auto ls, mgr_->leases(name));
    json out = json::array();
    for (const auto& l : ls)
        out.push_back(json{{"hostname", l.hostname},
                           {"hw_address", l.mac},
                           {"address", l.address},
                           {"type", l.expiry == 0 ? "static" : "dynamic"},
                           {"location", "none"},
                           {"project", kProject}});
    return out;
}

Result<json> Networks::state(const std::string& name) {
    LXM_TRY(json cur, get(name));
    LXM_TRY(auto link, netd::get_link(name));
    if (!link) return http_error(404, "Network interface \"" + name + "\" not found");
    json addrs = json::array();
    LXM_TRY(auto list, netd::list_addresses(name));
    for (const auto& a : list) {
        auto slash = a.find('/');
        std::string ip = a.substr(0, slash);
        bool v6 = ip.find(':') != std::string::npos;
        addrs.push_back({{"family", v6 ? "inet6" : "inet"},
                         {"address", ip},
                         {"netmask", slash == std::string::npos ? "" : a.substr(slash + 1)},
                         {"scope", v6 && ip.rfind("fe80:", 0) == 0 ? "link" : "global"}});
    }
    auto counter = [&](const char* file) -> int64_t {
        auto t = base::read_file("/sys/class/net/" + name + "/statistics/" + file, 64);
        if (!t) return 0;
        try {
            return std::stoll(*t);
        } catch (...) {
            return 0;
        }
    };
    return json{{"addresses", addrs},
                {"counters",
                 {{"bytes_received", counter("rx_bytes")},
                  {"bytes_sent", counter("tx_bytes")},
                  {"packets_received", counter("rx_packets")},
                  {"packets_sent", counter("tx_packets")}}},
                {"hwaddr", link->mac},
                {"mtu", link->mtu},
                {"state", link->up ? "up" : "down"},
                {"type", "broadcast"}};
}

// ---- instances ----------------------------------------------------------------------------------

Result<std::vector<netd::NicAllocation>> Networks::allocate_nics(const std::string& instance,
                                                                const store::DeviceMap& devices) {
    std::vector<netd::NicAllocation> out;
    base::Reverter rev;
    for (const auto& [dev, keys] : devices) {
        auto t = keys.find("type");
        if (t == keys.end() || t->second != "nic") continue;
        auto n = keys.find("network");
        if (n == keys.end() || n->second.empty()) {
            LXM_WARN("instance {}: nic {} has no network (only managed networks are supported): skipped", instance, dev);
            continue;
        }
        auto a = mgr_->allocate_nic(n->second, instance, dev, keys);
        if (!a) {
            if (a.error().code == std::errc::no_such_file_or_directory)
                return http_error(400, "nic " + dev + ": network \"" + n->second + "\" is not running");
            return std::unexpected(base::wrap(a.error(), "nic " + dev));
        }
        rev.add([this, net = n->second, instance, dev] { (void)mgr_->release_nic(net, instance, dev); });
        out.push_back(std::move(*a));
    }
    // The plug file lets the monitor recreate the nics after a reboot inside the container.
    std::vector<netd::NicPlug> plugs;
    for (const auto& a : out) plugs.push_back({a.host_veth, a.peer, a.inside_name, a.network, a.mac, a.mtu});
    std::string run_dir = state_.paths().run_dir(instance);
    LXM_TRY_VOID(base::mkdir_p(run_dir, 0711));
    LXM_TRY_VOID(base::wrap(netd::write_nic_plugs(run_dir + "/nics.json", plugs), "nic plug file"));
    rev.success();
    return out;
}

void Networks::release_nics(const std::string& instance, const store::DeviceMap& devices) {
    for (const auto& [dev, keys] : devices) {
        auto t = keys.find("type");
        auto n = keys.find("network");
        if (t == keys.end() || t->second != "nic" || n == keys.end() || n->second.empty()) continue;
        if (auto r = mgr_->release_nic(n->second, instance, dev); !r)
            LXM_DEBUG("instance {}: release nic {}: {}", instance, dev, r.error().message());
    }
}

void Networks::forget_instance(const std::string& instance) {
    if (auto r = mgr_->forget_instance(instance); !r)
        LXM_WARN("instance {}: forget nics: {}", instance, r.error().message());
}

std::map<std::string, apitypes::InstanceStateNetwork> Networks::state_network(pid_t pid) {
    std::map<std::string, apitypes::InstanceStateNetwork> out;
    auto addrs = netd::addresses_in_netns(pid);
    if (!addrs) {
        LXM_DEBUG("addresses of pid {}: {}", pid, addrs.error().message());
        return out;
    }
    for (const auto& a : *addrs) {
        auto& n = out[a.interface];
        n.state = "up";
        n.type = a.interface == "lo" ? "loopback" : "broadcast";
        n.addresses.push_back(apitypes::InstanceStateNetworkAddress{a.family, a.address, std::to_string(a.prefix), a.scope});
    }
    return out;
}

// ---- proxy devices ------------------------------------------------------------------------------

namespace {

std::string dev_value(const store::ConfigMap& dev, const std::string& key) {
    auto it = dev.find(key);
    return it == dev.end() ? std::string() : it->second;
}

bool is_type(const store::ConfigMap& dev, const char* type) { return dev_value(dev, "type") == type; }

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

netd::NftForward forward_of(const ProxyDevice& p, const std::string& target) {
    netd::NftForward f;
    f.proto = p.listen.proto;
    f.listen_address = p.listen.address == "0.0.0.0" ? "" : p.listen.address;
    f.listen_port = p.listen.port;
    f.target_address = target;
    f.target_port = p.connect.port;
    return f;
}

bool same(const std::vector<netd::NftForward>& a, const std::vector<netd::NftForward>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].proto != b[i].proto || a[i].listen_address != b[i].listen_address ||
            a[i].listen_port != b[i].listen_port || a[i].target_address != b[i].target_address ||
            a[i].target_port != b[i].target_port)
            return false;
    return true;
}

}  // namespace

Result<std::optional<std::string>> Networks::proxy_target(const std::string& instance, const store::DeviceMap& devices,
                                                          const std::string& connect_address) {
    bool any = connect_address == "0.0.0.0";
    bool pending = false;
    for (const auto& [dev, keys] : devices) {
        if (!is_type(keys, "nic")) continue;
        std::string net = dev_value(keys, "network");
        if (net.empty()) continue;
        auto cfg = mgr_->config(net);
        if (!cfg) continue;
        auto v4 = cfg->find("ipv4.address");
        if (v4 == cfg->end() || v4->second == "none") continue;
        if (std::string st = dev_value(keys, "ipv4.address"); !st.empty()) {
            if (any || st == connect_address) return std::optional<std::string>(st);
            continue;
        }
        std::string mac = lower(dev_value(keys, "hwaddr"));
        if (mac.empty()) mac = netd::stable_mac(instance, dev);
        LXM_TRY(auto leases, mgr_->leases(net));
        std::optional<std::string> leased;
        for (const auto& l : leases)
            if (lower(l.mac) == mac && l.address.find(':') == std::string::npos) leased = l.address;
        if (!leased) {
            if (any) return std::optional<std::string>();
            pending = true;
            continue;
        }
        if (any || *leased == connect_address) return leased;
    }
    if (pending) return std::optional<std::string>();
    return http_error(400, any ? "no nic of the instance is on a managed IPv4 network"
                               : "connect address " + connect_address + " is not an address of the instance's nics");
}

Result<void> Networks::check_proxies(const std::string& instance, const store::DeviceMap& devices) {
    auto relays = relays_->live_listens();
    std::vector<std::pair<std::string, ProxyEndpoint>> mine;
    for (const auto& [dev, keys] : devices) {
        if (!is_type(keys, "proxy")) continue;
        LXM_TRY(ProxyDevice p, parse_proxy_device(dev, keys));
        auto taken = [&](const std::string& by) {
            return http_error(400, "Proxy device \"" + dev + "\": " + p.listen.to_string() + " is already " +
                                       (by.find('/') == std::string::npos ? "listened on by device " : "forwarded by ") + by);
        };
        if (p.listen.proto != "unix") {
            LXM_TRY(auto other, mgr_->forward_conflict(forward_of(p, ""), instance + "/" + dev));
            if (!other.empty() && other.rfind(instance + "/", 0) != 0) return taken(other);
        }
        for (const auto& [owner, l] : relays)
            if (owner.rfind(instance + "/", 0) != 0 && netd::relay_listens_overlap(p.listen, l)) return taken(owner);
        for (const auto& [other, l] : mine)
            if (netd::relay_listens_overlap(p.listen, l)) return taken(other);
        mine.emplace_back(dev, p.listen);
    }
    return {};
}

pid_t Networks::running_init_pid(const std::string& instance) {
    std::string sock = state_.paths().monitor_socket(instance);
    if (!base::path_exists(sock)) return 0;
    auto mc = runtime::MonitorClient::connect(sock);
    if (!mc) return 0;
    timeval tv{5, 0};
    ::setsockopt(mc->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(mc->fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto st = mc->state();
    if (!st) return 0;
    std::string status = st->value("status", "");
    if (status != "Running" && status != "Frozen") return 0;
    return st->value("pid", 0);
}

Result<void> Networks::sync_proxies(const std::string& instance, const store::DeviceMap& devices, bool running) {
    std::lock_guard lock(proxy_mu_);
    return sync_proxies_locked(instance, devices, running);
}

Result<void> Networks::sync_proxies_locked(const std::string& instance, const store::DeviceMap& devices, bool running) {
    std::map<std::string, std::vector<netd::NftForward>> want;
    std::map<std::string, ProxyDevice> relays;
    std::optional<base::Error> first;
    if (running) {
        for (const auto& [dev, keys] : devices) {
            if (!is_type(keys, "proxy")) continue;
            auto p = parse_proxy_device(dev, keys);
            if (!p) {
                if (!first) first = p.error();
                continue;
            }
            if (!p->nat) {
                relays.emplace(dev, std::move(*p));
                continue;
            }
            auto target = proxy_target(instance, devices, p->connect.address);
            if (!target) {
                if (!first) first = base::wrap(target.error(), "proxy device " + dev);
                continue;
            }
            if (*target) want[instance + "/" + dev] = {forward_of(*p, **target)};
        }
    }
    LXM_TRY(auto current, mgr_->forwards());
    auto apply = [&](const std::string& owner, const std::vector<netd::NftForward>& fs) {
        auto r = mgr_->set_forwards(owner, fs);
        if (!r && !first) {
            if (r.error().code == std::errc::address_in_use) first = http_error(400, r.error().message()).error();
            else first = r.error();
        }
    };
    for (const auto& [owner, fs] : current)
        if (owner.rfind(instance + "/", 0) == 0 && !want.contains(owner)) apply(owner, {});
    for (const auto& [owner, fs] : want) {
        auto it = current.find(owner);
        if (it == current.end() || !same(it->second, fs)) apply(owner, fs);
    }
    // Relays serve the init the monitor reports now (none while it stops or is gone).
    pid_t init = relays.empty() ? 0 : running_init_pid(instance);
    if (auto r = relays_->sync(instance, relays, init); !r && !first) first = r.error();
    if (first) return std::unexpected(*first);
    return {};
}

void Networks::sync_all_proxies() {
    struct Row {
        std::string name;
        store::DeviceMap devices;
    };
    auto rows = state_.store().read([&](store::Transaction& tx) -> Result<std::vector<Row>> {
        LXM_TRY(auto insts, store::list_instances(tx, std::string_view(kProject)));
        LXM_TRY(auto profiles, store::list_profiles(tx, kProject));
        std::vector<Row> out;
        for (const auto& i : insts) {
            std::vector<const store::DeviceMap*> layers;
            for (const auto& pn : i.profiles)
                for (const auto& p : profiles)
                    if (p.name == pn) layers.push_back(&p.devices);
            layers.push_back(&i.devices);
            out.push_back({i.name, expand_devices(layers)});
        }
        return out;
    });
    if (!rows) {
        LXM_DEBUG("proxies: {}", rows.error().message());
        return;
    }
    auto current = mgr_->forwards();
    std::set<std::string> with_forwards;
    if (current)
        for (const auto& [owner, fs] : *current) with_forwards.insert(owner.substr(0, owner.find('/')));
    for (const auto& r : *rows) {
        bool has_proxy = std::any_of(r.devices.begin(), r.devices.end(), [](const auto& d) { return is_type(d.second, "proxy"); });
        if (!has_proxy && !with_forwards.contains(r.name) && !relays_->has_records(r.name)) continue;
        std::lock_guard lock(proxy_mu_);
        bool running = base::path_exists(state_.paths().monitor_socket(r.name));
        if (auto s = sync_proxies_locked(r.name, r.devices, running); !s)
            LXM_DEBUG("instance {}: proxies: {}", r.name, s.error().message());
    }
}

}  // namespace lxm::core
