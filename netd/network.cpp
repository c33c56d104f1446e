#include "netd/network.hpp"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "netd/link.hpp"
#include "netd/netlink.hpp"

namespace lxm::netd {

using base::Result;

namespace {

std::optional<bool> parse_bool(const std::string& v) {
    if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "0" || v == "no" || v == "off" || v.empty()) return false;
    return std::nullopt;
}

bool get_bool(const ConfigMap& c, const std::string& k, bool def) {
    auto it = c.find(k);
    if (it == c.end()) return def;
    return parse_bool(it->second).value_or(def);
}

std::string get(const ConfigMap& c, const std::string& k, const std::string& def = {}) {
    auto it = c.find(k);
    return it == c.end() ? def : it->second;
}

Result<unsigned> parse_mtu(const std::string& v) {
    unsigned m = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), m);
    if (ec != std::errc{} || p != v.data() + v.size() || m < 68 || m > 65535)
        return base::make_error(std::errc::invalid_argument, "invalid mtu '" + v + "' (68-65535)");
    return m;
}

bool valid_domain(const std::string& d) {
    if (d.empty() || d.size() > 253) return false;
    size_t s = 0;
    while (s <= d.size()) {
        size_t dot = d.find('.', s);
        if (dot == std::string::npos) dot = d.size();
        if (!valid_hostname(std::string_view(d).substr(s, dot - s))) return false;
        s = dot + 1;
    }
    return true;
}

Result<Ipv4Net> parse_bridge_v4(const std::string& v) {
    LXM_TRY(auto n, parse_ipv4_cidr(v));
    if (n.prefix < 8 || n.prefix > 30)
        return base::make_error(std::errc::invalid_argument, "ipv4.address " + v + ": prefix must be 8-30");
    uint32_t host = n.addr & ~n.mask();
    if (host == 0 || host == ~n.mask())
        return base::make_error(std::errc::invalid_argument,
                                "ipv4.address " + v + " must be a host address (e.g. 10.1.2.1/24), not the network or broadcast");
    return n;
}

Result<Ipv6Net> parse_bridge_v6(const std::string& v) {
    LXM_TRY(auto n, parse_ipv6_cidr(v));
    if (n.prefix != 64) return base::make_error(std::errc::invalid_argument, "ipv6.address " + v + ": prefix must be /64");
    if (n == n.network()) return base::make_error(std::errc::invalid_argument, "ipv6.address " + v + " must be a host address");
    return n;
}

// "a-b[,c-d]" inside net → dnsmasq "a,b" ranges.
Result<std::vector<std::string>> parse_ranges(const std::string& v, const std::optional<Ipv4Net>& net) {
    std::vector<std::string> out;
    size_t s = 0;
    while (s < v.size()) {
        size_t comma = v.find(',', s);
        if (comma == std::string::npos) comma = v.size();
        std::string r = v.substr(s, comma - s);
        s = comma + 1;
        auto dash = r.find('-');
        if (dash == std::string::npos)
            return base::make_error(std::errc::invalid_argument, "ipv4.dhcp.ranges: '" + r + "' is not start-end");
        LXM_TRY(auto a, parse_ipv4(r.substr(0, dash)));
        LXM_TRY(auto b, parse_ipv4(r.substr(dash + 1)));
        if (b < a) return base::make_error(std::errc::invalid_argument, "ipv4.dhcp.ranges: '" + r + "' ends before it starts");
        if (net && (!net->contains(a) || !net->contains(b)))
            return base::make_error(std::errc::invalid_argument, "ipv4.dhcp.ranges: '" + r + "' is outside " + to_string(*net));
        out.push_back(ipv4_to_string(a) + "," + ipv4_to_string(b));
    }
    return out;
}

const char* kKeys[] = {"ipv4.address", "ipv4.nat",   "ipv4.dhcp",  "ipv4.dhcp.ranges", "ipv6.address",
                       "ipv6.nat",     "dns.domain", "bridge.mtu", "routed.networks"};

std::vector<std::string> split_list(const std::string& v) {
    std::vector<std::string> out;
    size_t s = 0;
    while (s <= v.size()) {
        size_t c = v.find(',', s);
        if (c == std::string::npos) c = v.size();
        std::string item = v.substr(s, c - s);
        while (!item.empty() && item.front() == ' ') item.erase(0, 1);
        while (!item.empty() && item.back() == ' ') item.pop_back();
        if (!item.empty()) out.push_back(item);
        s = c + 1;
    }
    return out;
}

std::string nic_key(const std::string& instance, const std::string& device) { return instance + "/" + device; }

bool wildcard(const std::string& a) { return a.empty() || a == "0.0.0.0" || a == "::"; }

}  // namespace

Result<void> validate_network_config(const std::string& name, const ConfigMap& config) {
    if (!valid_link_name(name) || !valid_hostname(name))
        return base::make_error(std::errc::invalid_argument,
                                "invalid network name '" + name + "' (1-15 letters, digits and '-')");
    for (const auto& [k, v] : config) {
        if (k.rfind("user.", 0) == 0) continue;
        if (std::find(std::begin(kKeys), std::end(kKeys), k) == std::end(kKeys))
            return base::make_error(std::errc::invalid_argument, "unknown network configuration key '" + k + "'");
        if (k == "ipv4.nat" || k == "ipv4.dhcp" || k == "ipv6.nat") {
            if (!parse_bool(v)) return base::make_error(std::errc::invalid_argument, k + ": '" + v + "' is not a boolean");
        } else if (k == "ipv4.address") {
            if (v != "auto" && v != "none") LXM_TRY_VOID(parse_bridge_v4(v));
        } else if (k == "ipv6.address") {
            if (v != "auto" && v != "none") LXM_TRY_VOID(parse_bridge_v6(v));
        } else if (k == "bridge.mtu") {
            LXM_TRY_VOID(parse_mtu(v));
        } else if (k == "routed.networks") {
            for (const auto& o : split_list(v))
                if (!valid_link_name(o) || o == name)
                    return base::make_error(std::errc::invalid_argument, "routed.networks: invalid network name '" + o + "'");
        } else if (k == "dns.domain") {
            if (!valid_domain(v)) return base::make_error(std::errc::invalid_argument, "dns.domain: invalid domain '" + v + "'");
        }
    }
    std::optional<Ipv4Net> net;
    auto a = get(config, "ipv4.address", "auto");
    if (a != "auto" && a != "none") net = parse_bridge_v4(a)->network();
    if (auto r = get(config, "ipv4.dhcp.ranges"); !r.empty()) LXM_TRY_VOID(parse_ranges(r, net));
    return {};
}

Result<std::vector<InterfaceAddress>> addresses_in_netns(pid_t pid) {
    LXM_TRY(auto sock, nl_route_connect_in_netns(pid));
    nl_cache* raw = nullptr;
    if (int err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw); err < 0) return nl_error(err, "dump links");
    NlCache links(raw);
    raw = nullptr;
    if (int err = rtnl_addr_alloc_cache(sock.get(), &raw); err < 0) return nl_error(err, "dump addresses");
    NlCache addrs(raw);
    std::vector<InterfaceAddress> out;
    for (nl_object* o = nl_cache_get_first(addrs.get()); o; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        nl_addr* local = rtnl_addr_get_local(a);
        if (!local) continue;
        InterfaceAddress ia;
        char name[64] = {};
        if (rtnl_link_i2name(links.get(), rtnl_addr_get_ifindex(a), name, sizeof name)) ia.interface = name;
        int fam = nl_addr_get_family(local);
        ia.family = fam == AF_INET6 ? "inet6" : "inet";
        char buf[INET6_ADDRSTRLEN] = {};
        if (!inet_ntop(fam, nl_addr_get_binary_addr(local), buf, sizeof buf)) continue;
        ia.address = buf;
        ia.prefix = rtnl_addr_get_prefixlen(a);
        int scope = rtnl_addr_get_scope(a);
        ia.scope = scope == RT_SCOPE_UNIVERSE ? "global" : scope == RT_SCOPE_LINK ? "link" : "local";
        out.push_back(std::move(ia));
    }
    return out;
}

struct NetworkManager::Net {
    std::string name;
    ConfigMap config;  // filled
    std::optional<Ipv4Net> v4;
    std::optional<Ipv6Net> v6;
    bool nat4 = false;
    bool nat6 = false;
    bool dhcp4 = true;
    std::vector<std::string> ranges;
    std::string domain = "lxm";
    unsigned mtu = 1500;
    std::unique_ptr<Dnsmasq> dnsmasq;
    std::map<std::string, NicEntry> nics;
};

NetworkManager::NetworkManager(Options opts) : opts_(std::move(opts)) {}
NetworkManager::~NetworkManager() = default;

std::string NetworkManager::net_dir(const std::string& name) const { return opts_.state_dir + "/" + name; }

Result<ConfigMap> NetworkManager::fill_defaults(const std::string& name, const ConfigMap& config) {
    std::lock_guard lock(mu_);
    return fill_locked(name, config);
}

Result<ConfigMap> NetworkManager::fill_locked(const std::string& name, const ConfigMap& config) {
    LXM_TRY_VOID(validate_network_config(name, config));
    ConfigMap out = config;
    auto v4 = get(config, "ipv4.address", "auto");
    auto v6 = get(config, "ipv6.address", "none");
    if (v4 == "auto" || v6 == "auto") {
        LXM_TRY(auto used, read_used_networks());
        for (const auto& [n, net] : nets_) {
            if (n == name) continue;
            if (net->v4) used.v4.push_back(net->v4->network());
            if (net->v6) used.v6.push_back(net->v6->network());
        }
        if (v4 == "auto") {
            auto pick = choose_ipv4_subnet(used.v4, name);
            if (!pick) return base::make_error(std::errc::address_not_available, "no free IPv4 /24 in 10.0.0.0/8 for " + name);
            out["ipv4.address"] = ipv4_to_string(pick->addr | 1) + "/24";
            if (!out.contains("ipv4.nat")) out["ipv4.nat"] = "true";
        }
        if (v6 == "auto") {
            auto pick = choose_ipv6_subnet(used.v6, name);
            if (!pick) return base::make_error(std::errc::address_not_available, "no free IPv6 ULA /64 for " + name);
            pick->addr[15] = 1;
            out["ipv6.address"] = to_string(*pick);
            if (!out.contains("ipv6.nat")) out["ipv6.nat"] = "true";
        }
    } else if (!out.contains("ipv4.address")) {
        out["ipv4.address"] = v4;
    }
    return out;
}

Result<std::unique_ptr<NetworkManager::Net>> NetworkManager::build_net(const std::string& name, const ConfigMap& filled) {
    auto n = std::make_unique<Net>();
    n->name = name;
    n->config = filled;
    auto v4 = get(filled, "ipv4.address", "none");
    auto v6 = get(filled, "ipv6.address", "none");
    if (v4 == "auto" || v6 == "auto")
        return base::make_error(std::errc::invalid_argument, "network " + name + ": config has unresolved 'auto'");
    if (v4 != "none") {
        LXM_TRY(auto a, parse_bridge_v4(v4));
        n->v4 = a;
    }
    if (v6 != "none") {
        LXM_TRY(auto a, parse_bridge_v6(v6));
        n->v6 = a;
    }
    n->nat4 = get_bool(filled, "ipv4.nat", false);
    n->nat6 = get_bool(filled, "ipv6.nat", false);
    n->dhcp4 = get_bool(filled, "ipv4.dhcp", true);
    n->domain = get(filled, "dns.domain", "lxm");
    if (auto m = get(filled, "bridge.mtu"); !m.empty()) {
        LXM_TRY(n->mtu, parse_mtu(m));
    }
    if (n->v4 && n->dhcp4) {
        Ipv4Net net = n->v4->network();
        if (auto r = get(filled, "ipv4.dhcp.ranges"); !r.empty()) {
            LXM_TRY(n->ranges, parse_ranges(r, net));
        } else {
            // Everything but the network, broadcast and bridge addresses (the bridge usually takes .1).
            uint32_t first = net.addr + 1, last = (net.addr | ~net.mask()) - 1;
            uint32_t br = n->v4->addr;
            if (br == first) ++first;
            if (br == last) --last;
            n->ranges.push_back(ipv4_to_string(first) + "," + ipv4_to_string(last));
        }
    }
    if (n->v4 || n->v6) {
        DnsmasqConfig d;
        d.bridge = name;
        d.state_dir = net_dir(name);
        if (n->v4) d.ipv4_address = ipv4_to_string(n->v4->addr);
        if (n->v6) d.ipv6_address = ipv6_addr_to_string(n->v6->addr);
        d.dhcp_ranges = n->ranges;
        d.domain = n->domain;
        d.mtu = n->mtu != 1500 ? n->mtu : 0;
        d.binary = opts_.dnsmasq_binary;
        d.user = opts_.dnsmasq_user;
        d.group = opts_.dnsmasq_group;
        n->dnsmasq = std::make_unique<Dnsmasq>(std::move(d));
    }
    return n;
}

Result<void> NetworkManager::write_nics(Net& n) {
    nlohmann::json j = nlohmann::json::array();
    std::vector<StaticHost> hosts;
    for (const auto& [k, e] : n.nics) {
        j.push_back({{"instance", e.instance}, {"device", e.device}, {"mac", e.mac}, {"ipv4", e.ipv4}});
        hosts.push_back({e.mac, e.ipv4, e.instance});
    }
    LXM_TRY_VOID(base::mkdir_p(net_dir(n.name), 0755));
    LXM_TRY_VOID(base::write_file_atomic(net_dir(n.name) + "/nics.json", j.dump(2) + "\n", 0644));
    if (n.dnsmasq) LXM_TRY_VOID(n.dnsmasq->set_static_hosts(hosts));
    return {};
}

Result<void> NetworkManager::load_nics(Net& n) {
    std::string path = net_dir(n.name) + "/nics.json";
    if (!base::path_exists(path)) return {};
    LXM_TRY(auto text, base::read_file(path));
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_array()) return base::make_error(std::errc::invalid_argument, "corrupt " + path);
    for (const auto& e : j) {
        NicEntry ne{e.value("instance", ""), e.value("device", ""), e.value("mac", ""), e.value("ipv4", "")};
        if (ne.instance.empty() || ne.device.empty() || !parse_mac(ne.mac)) continue;
        n.nics[nic_key(ne.instance, ne.device)] = ne;
    }
    return {};
}

Result<void> NetworkManager::save_forwards() {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [owner, fs] : forwards_) {
        auto& arr = j[owner] = nlohmann::json::array();
        for (const auto& f : fs)
            arr.push_back({{"proto", f.proto}, {"listen_address", f.listen_address}, {"listen_port", f.listen_port},
                           {"target_address", f.target_address}, {"target_port", f.target_port}});
    }
    LXM_TRY_VOID(base::mkdir_p(opts_.state_dir, 0755));
    return base::write_file_atomic(opts_.state_dir + "/forwards.json", j.dump(2) + "\n", 0644);
}

Result<void> NetworkManager::load_forwards() {
    if (!forwards_loaded_) {
        forwards_loaded_ = true;
        std::string path = opts_.state_dir + "/forwards.json";
        if (base::path_exists(path)) {
            LXM_TRY(auto text, base::read_file(path));
            auto j = nlohmann::json::parse(text, nullptr, false);
            if (j.is_object()) {
                for (const auto& [owner, arr] : j.items()) {
                    if (!arr.is_array()) continue;
                    for (const auto& f : arr) {
                        NftForward nf;
                        nf.proto = f.value("proto", "tcp");
                        nf.listen_address = f.value("listen_address", "");
                        nf.listen_port = f.value("listen_port", uint16_t{0});
                        nf.target_address = f.value("target_address", "");
                        nf.target_port = f.value("target_port", uint16_t{0});
                        forwards_[owner].push_back(nf);
                    }
                }
            }
        }
    }
    return {};
}

Result<void> NetworkManager::sync_firewall() {
    LXM_TRY_VOID(load_forwards());
    NftConfig cfg;
    cfg.table = opts_.nft_table;
    for (const auto& [name, n] : nets_) {
        NftBridge b;
        b.bridge = name;
        if (n->v4) b.ipv4_subnet = to_string(n->v4->network());
        if (n->v6) b.ipv6_subnet = to_string(n->v6->network());
        b.ipv4_nat = n->nat4;
        b.ipv6_nat = n->nat6;
        b.routed = split_list(get(n->config, "routed.networks"));
        cfg.bridges.push_back(b);
    }
    for (const auto& [owner, fs] : forwards_) cfg.forwards.insert(cfg.forwards.end(), fs.begin(), fs.end());
    if (cfg.bridges.empty() && cfg.forwards.empty()) return nft_delete_table(opts_.nft_table);
    LXM_TRY_VOID(nft_apply(cfg));
    auto drop = detect_forward_drop(opts_.nft_table);
    if (drop && *drop) notices_.push_back("warning: " + **drop);
    return {};
}

Result<void> NetworkManager::bring_up(Net& n, bool adopt) {
    base::Reverter revert;
    LXM_TRY(auto existing, get_link(n.name));
    if (existing) {
        if (existing->kind != "bridge")
            return base::make_error(std::errc::file_exists, "network " + n.name + ": a non-bridge link of that name exists");
        if (!adopt) return base::make_error(std::errc::file_exists, "network " + n.name + ": bridge already exists");
        if (existing->mtu != n.mtu) LXM_TRY_VOID(set_mtu(n.name, n.mtu));
    } else {
        LXM_TRY_VOID(create_bridge(n.name, n.mtu));
        revert.add([name = n.name] { (void)delete_link_if_exists(name); });
        // A fixed MAC: otherwise the bridge takes the lowest port MAC and changes as veths come and go.
        LXM_TRY_VOID(set_mac(n.name, stable_mac("bridge", n.name)));
    }
    if (n.v4) LXM_TRY_VOID(add_address(n.name, to_string(*n.v4)));
    if (n.v6) LXM_TRY_VOID(add_address(n.name, to_string(*n.v6)));
    LXM_TRY_VOID(set_link_up(n.name));
    // Port forwards from the host's 127/8 need it; the nft guard chain keeps containers off 127/8.
    if (n.v4) LXM_TRY_VOID(enable_route_localnet(n.name));
    if (n.v4 || n.v6) {
        LXM_TRY(bool changed, enable_ip_forward(n.v6.has_value()));
        if (changed)
            notices_.push_back(std::string("enabled IP forwarding (net.ipv4.ip_forward") +
                               (n.v6 ? ", net.ipv6.conf.all.forwarding" : "") + ") for network " + n.name);
    }
    LXM_TRY_VOID(base::mkdir_p(net_dir(n.name), 0755));
    LXM_TRY_VOID(load_nics(n));
    if (n.dnsmasq) {
        LXM_TRY_VOID(write_nics(n));
        LXM_TRY_VOID(n.dnsmasq->start());
        revert.add([d = n.dnsmasq.get()] { (void)d->stop(); });
    }
    revert.success();
    return {};
}

Result<ConfigMap> NetworkManager::create(const std::string& name, const ConfigMap& config) {
    std::lock_guard lock(mu_);
    if (nets_.contains(name)) return base::make_error(std::errc::file_exists, "network " + name + " already exists");
    LXM_TRY(auto filled, fill_locked(name, config));
    LXM_TRY(auto net, build_net(name, filled));
    LXM_TRY_VOID(base::mkdir_p(opts_.state_dir, 0755));
    bool had_dir = base::path_exists(net_dir(name));
    if (auto up = bring_up(*net, false); !up) {
        // bring_up undid its own kernel work; the state dir is ours to remove.
        if (!had_dir) (void)base::remove_tree(net_dir(name));
        return std::unexpected(up.error());
    }
    nets_[name] = std::move(net);
    if (auto fw = sync_firewall(); !fw) {
        auto keep = std::move(nets_[name]);
        nets_.erase(name);
        if (keep->dnsmasq) (void)keep->dnsmasq->stop();
        (void)delete_link_if_exists(name);
        if (!had_dir) (void)base::remove_tree(net_dir(name));
        (void)sync_firewall();
        return std::unexpected(fw.error());
    }
    return filled;
}

Result<void> NetworkManager::start(const std::string& name, const ConfigMap& config) {
    std::lock_guard lock(mu_);
    if (nets_.contains(name)) return {};
    LXM_TRY(auto filled, fill_locked(name, config));
    LXM_TRY(auto net, build_net(name, filled));
    LXM_TRY_VOID(base::mkdir_p(opts_.state_dir, 0755));
    LXM_TRY_VOID(bring_up(*net, true));
    nets_[name] = std::move(net);
    return sync_firewall();
}

Result<ConfigMap> NetworkManager::update(const std::string& name, const ConfigMap& config) {
    std::lock_guard lock(mu_);
    auto it = nets_.find(name);
    if (it == nets_.end()) return base::make_error(std::errc::no_such_file_or_directory, "network " + name + " not found");
    LXM_TRY(auto filled, fill_locked(name, config));
    LXM_TRY(auto next, build_net(name, filled));
    Net& cur = *it->second;
    // Move the registrations over; stop the old dnsmasq (its options change).
    next->nics = cur.nics;
    if (cur.dnsmasq) LXM_TRY_VOID(cur.dnsmasq->stop());
    if (cur.v4 && (!next->v4 || !(*cur.v4 == *next->v4))) LXM_TRY_VOID(del_address(name, to_string(*cur.v4)));
    if (cur.v6 && (!next->v6 || !(*cur.v6 == *next->v6))) LXM_TRY_VOID(del_address(name, to_string(*cur.v6)));
    auto up = bring_up(*next, true);
    if (!up) {
        // Put the old configuration back as far as possible.
        if (next->dnsmasq) (void)next->dnsmasq->stop();
        if (next->v4) (void)del_address(name, to_string(*next->v4));
        if (next->v6) (void)del_address(name, to_string(*next->v6));
        (void)bring_up(cur, true);
        return std::unexpected(up.error());
    }
    it->second = std::move(next);
    LXM_TRY_VOID(sync_firewall());
    return filled;
}

Result<void> NetworkManager::remove(const std::string& name, bool force) {
    std::lock_guard lock(mu_);
    auto it = nets_.find(name);
    if (it == nets_.end()) {
        // Not started (e.g. errored at start): still clean up what may exist.
        LXM_TRY(auto l, get_link(name));
        if (l && l->kind == "bridge") LXM_TRY_VOID(delete_link(name));
        DnsmasqConfig dc;
        dc.bridge = name;
        dc.state_dir = net_dir(name);
        Dnsmasq d(dc);
        LXM_TRY_VOID(d.stop());
        (void)base::remove_tree(net_dir(name));
        return sync_firewall();
    }
    Net& n = *it->second;
    if (!n.nics.empty() && !force) {
        std::string users;
        for (const auto& [k, e] : n.nics) users += (users.empty() ? "" : ", ") + k;
        return base::make_error(std::errc::device_or_resource_busy, "network " + name + " is in use by " + users);
    }
    for (const auto& [k, e] : n.nics) (void)delete_link_if_exists(host_veth_name(e.instance, e.device));
    if (n.dnsmasq) LXM_TRY_VOID(n.dnsmasq->stop());
    LXM_TRY_VOID(delete_link_if_exists(name));
    nets_.erase(it);
    LXM_TRY_VOID(sync_firewall());
    LXM_TRY_VOID(base::remove_tree(net_dir(name)));
    return {};
}

std::vector<std::string> NetworkManager::networks() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [n, _] : nets_) out.push_back(n);
    return out;
}

Result<ConfigMap> NetworkManager::config(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = nets_.find(name);
    if (it == nets_.end()) return base::make_error(std::errc::no_such_file_or_directory, "network " + name + " not found");
    return it->second->config;
}

Result<std::vector<Lease>> NetworkManager::leases(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = nets_.find(name);
    if (it == nets_.end()) return base::make_error(std::errc::no_such_file_or_directory, "network " + name + " not found");
    if (!it->second->dnsmasq) return std::vector<Lease>{};
    return it->second->dnsmasq->leases();
}

Result<NicAllocation> NetworkManager::allocate_nic(const std::string& network, const std::string& instance,
                                                   const std::string& device, const ConfigMap& dev) {
    std::lock_guard lock(mu_);
    auto it = nets_.find(network);
    if (it == nets_.end())
        return base::make_error(std::errc::no_such_file_or_directory, "network " + network + " not found (or not started)");
    Net& n = *it->second;
    if (!valid_hostname(instance))
        return base::make_error(std::errc::invalid_argument, "instance name '" + instance + "' is not a valid host name");
    NicAllocation a;
    a.network = network;
    a.host_veth = host_veth_name(instance, device);
    a.peer = peer_temp_name(instance, device);
    a.inside_name = get(dev, "name", device);
    if (!valid_link_name(a.inside_name))
        return base::make_error(std::errc::invalid_argument, "nic " + device + ": invalid name '" + a.inside_name + "'");
    a.mac = get(dev, "hwaddr");
    if (a.mac.empty()) a.mac = stable_mac(instance, device);
    for (auto& c : a.mac) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    LXM_TRY_VOID(wrap(parse_mac(a.mac), "nic " + device + " hwaddr"));
    a.mtu = n.mtu;
    if (auto m = get(dev, "mtu"); !m.empty()) {
        LXM_TRY(a.mtu, wrap(parse_mtu(m), "nic " + device));
    }
    a.ipv4 = get(dev, "ipv4.address");
    if (!a.ipv4.empty()) {
        if (!n.v4) return base::make_error(std::errc::invalid_argument, "nic " + device + ": network " + network + " has no IPv4");
        LXM_TRY(uint32_t ip, wrap(parse_ipv4(a.ipv4), "nic " + device + " ipv4.address"));
        Ipv4Net net = n.v4->network();
        if (!net.contains(ip) || ip == net.addr || ip == (net.addr | ~net.mask()) || ip == n.v4->addr)
            return base::make_error(std::errc::invalid_argument, "nic " + device + ": ipv4.address " + a.ipv4 +
                                                                     " is not a free host address of " + to_string(net));
        a.ipv4 = ipv4_to_string(ip);
        for (const auto& [k, e] : n.nics)
            if (k != nic_key(instance, device) && e.ipv4 == a.ipv4)
                return base::make_error(std::errc::address_in_use, "ipv4.address " + a.ipv4 + " is already used by " + k);
    }
    for (const auto& [k, e] : n.nics)
        if (k != nic_key(instance, device) && e.mac == a.mac)
            return base::make_error(std::errc::address_in_use, "hwaddr " + a.mac + " is already used by " + k);

    base::Reverter revert;
    // Leftovers of a crash: a veth of that name is ours and stale.
    LXM_TRY_VOID(delete_link_if_exists(a.host_veth));
    LXM_TRY_VOID(delete_link_if_exists(a.peer));
    LXM_TRY_VOID(create_veth(a.host_veth, a.peer, a.mtu));
    revert.add([h = a.host_veth] { (void)delete_link_if_exists(h); });
    LXM_TRY_VOID(set_mac(a.peer, a.mac));
    LXM_TRY_VOID(set_master(a.host_veth, network));
    LXM_TRY_VOID(set_link_up(a.host_veth));

    auto key = nic_key(instance, device);
    auto old = n.nics.find(key);
    std::optional<NicEntry> previous;
    if (old != n.nics.end()) previous = old->second;
    n.nics[key] = NicEntry{instance, device, a.mac, a.ipv4};
    revert.add([&n, key, previous] {
        if (previous)
            n.nics[key] = *previous;
        else
            n.nics.erase(key);
    });
    LXM_TRY_VOID(write_nics(n));
    revert.success();
    return a;
}

Result<void> NetworkManager::release_nic(const std::string& network, const std::string& instance, const std::string& device) {
    (void)network;
    return delete_link_if_exists(host_veth_name(instance, device));
}

Result<void> NetworkManager::forget_instance(const std::string& instance) {
    std::lock_guard lock(mu_);
    for (auto& [name, n] : nets_) {
        bool changed = false;
        for (auto it = n->nics.begin(); it != n->nics.end();) {
            if (it->second.instance == instance) {
                (void)delete_link_if_exists(host_veth_name(instance, it->second.device));
                it = n->nics.erase(it);
                changed = true;
            } else {
                ++it;
            }
        }
        if (changed) LXM_TRY_VOID(write_nics(*n));
    }
    bool fw = false;
    for (auto it = forwards_.begin(); it != forwards_.end();) {
        if (it->first.rfind(instance + "/", 0) == 0) {
            it = forwards_.erase(it);
            fw = true;
        } else {
            ++it;
        }
    }
    if (fw) {
        LXM_TRY_VOID(save_forwards());
        LXM_TRY_VOID(sync_firewall());
    }
    return {};
}

Result<void> NetworkManager::set_forwards(const std::string& owner, const std::vector<NftForward>& forwards) {
    std::lock_guard lock(mu_);
    // Validate by rendering alone first: a bad forward must not break the others.
    NftConfig probe;
    probe.table = opts_.nft_table;
    probe.forwards = forwards;
    LXM_TRY_VOID(render_ruleset(probe));
    LXM_TRY_VOID(load_forwards());
    for (const auto& f : forwards)
        if (auto other = conflict_locked(f, owner); !other.empty())
            return base::make_error(std::errc::address_in_use, f.proto + " port " + std::to_string(f.listen_port) + " on " +
                                                                   (wildcard(f.listen_address) ? "all addresses" : f.listen_address) +
                                                                   " is already forwarded by " + other);
    auto previous = forwards_.find(owner) != forwards_.end() ? std::optional(forwards_[owner]) : std::nullopt;
    if (forwards.empty())
        forwards_.erase(owner);
    else
        forwards_[owner] = forwards;
    auto r = sync_firewall();
    if (!r) {
        if (previous)
            forwards_[owner] = *previous;
        else
            forwards_.erase(owner);
        return r;
    }
    return save_forwards();
}

Result<void> NetworkManager::remove_forwards(const std::string& owner) { return set_forwards(owner, {}); }

std::string NetworkManager::conflict_locked(const NftForward& f, const std::string& except_owner) const {
    for (const auto& [owner, fs] : forwards_) {
        if (owner == except_owner) continue;
        for (const auto& o : fs)
            if (o.proto == f.proto && o.listen_port == f.listen_port &&
                (o.listen_address == f.listen_address || wildcard(o.listen_address) || wildcard(f.listen_address)))
                return owner;
    }
    return {};
}

Result<std::map<std::string, std::vector<NftForward>>> NetworkManager::forwards() {
    std::lock_guard lock(mu_);
    LXM_TRY_VOID(load_forwards());
    return forwards_;
}

Result<std::string> NetworkManager::forward_conflict(const NftForward& f, const std::string& except_owner) {
    std::lock_guard lock(mu_);
    LXM_TRY_VOID(load_forwards());
    return conflict_locked(f, except_owner);
}

Result<std::vector<std::string>> NetworkManager::check_and_restart() {
    std::lock_guard lock(mu_);
    std::vector<std::string> restarted;
    std::optional<base::Error> first;
    for (auto& [name, n] : nets_) {
        if (!n->dnsmasq) continue;
        auto r = n->dnsmasq->check_and_restart();
        if (!r) {
            if (!first) first = r.error();
            continue;
        }
        if (*r) restarted.push_back(name);
    }
    if (first) return std::unexpected(*first);
    return restarted;
}

std::vector<std::string> NetworkManager::take_notices() {
    std::lock_guard lock(mu_);
    return std::exchange(notices_, {});
}

void NetworkManager::detach() {
    std::lock_guard lock(mu_);
    nets_.clear();
}

}  // namespace lxm::netd
