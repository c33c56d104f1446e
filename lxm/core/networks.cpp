#include "lxm/core/networks.hpp"

#include <algorithm>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/log.hpp"
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
    if (auto v = netd::validate_network_config(name, cfg); !v) return http_error(400, v.error().message());
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
    if (auto v = netd::validate_network_config(name, cfg); !v) return http_error(400, v.error().message());
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

}  // namespace lxm::core
