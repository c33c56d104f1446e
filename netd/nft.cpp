#include "netd/nft.hpp"

#include <nftables/libnftables.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>

#include "lxm/base/file.hpp"
#include "netd/link.hpp"
#include "netd/subnet.hpp"

namespace lxm::netd {
namespace {

struct CtxDeleter {
    void operator()(nft_ctx* c) const noexcept { nft_ctx_free(c); }
};
using NftCtx = std::unique_ptr<nft_ctx, CtxDeleter>;

bool valid_table_name(const std::string& t) {
    if (t.empty() || t.size() > 64) return false;
    for (char c : t)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return std::isalpha(static_cast<unsigned char>(t[0]));
}

enum class Family { v4, v6 };

base::Result<Family> address_family(const std::string& a) {
    if (parse_ipv4(a)) return Family::v4;
    if (parse_ipv6_cidr(a, 128)) return Family::v6;
    return base::make_error(std::errc::invalid_argument, "invalid address '" + a + "'");
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

base::Result<std::string> render_ruleset(const NftConfig& cfg) {
    if (!valid_table_name(cfg.table))
        return base::make_error(std::errc::invalid_argument, "invalid nft table name '" + cfg.table + "'");
    std::string post, fwd, in, pre, out, guard;
    for (const auto& b : cfg.bridges) {
        if (!valid_link_name(b.bridge) || b.bridge.find('"') != std::string::npos)
            return base::make_error(std::errc::invalid_argument, "invalid bridge name '" + b.bridge + "'");
        std::string ifn = quoted(b.bridge);
        if (!b.ipv4_subnet.empty()) {
            LXM_TRY(auto n, parse_ipv4_cidr(b.ipv4_subnet));
            std::string net = to_string(n.network());
            if (b.ipv4_nat) post += "    ip saddr " + net + " ip daddr != " + net + " masquerade\n";
            // Hairpin: a container reaching a port forward that leads back into its own bridge.
            post += "    iifname " + ifn + " oifname " + ifn + " ct status dnat masquerade\n";
        }
        if (!b.ipv6_subnet.empty()) {
            LXM_TRY(auto n, parse_ipv6_cidr(b.ipv6_subnet));
            std::string net = to_string(n.network());
            if (b.ipv6_nat) post += "    ip6 saddr " + net + " ip6 daddr != " + net + " masquerade\n";
        }
        guard += "    iifname " + ifn + " ip saddr 127.0.0.0/8 drop\n";
        guard += "    iifname " + ifn + " ip daddr 127.0.0.0/8 drop\n";
        fwd += "    iifname " + ifn + " accept\n";
        fwd += "    oifname " + ifn + " accept\n";
        in += "    iifname " + ifn + " udp dport { 53, 67 } accept\n";
        in += "    iifname " + ifn + " tcp dport 53 accept\n";
        if (!b.ipv6_subnet.empty()) {
            in += "    iifname " + ifn + " udp dport 547 accept\n";
            in += "    iifname " + ifn +
                  " icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept\n";
        }
    }
    // Isolation: nothing is forwarded between two bridges of this table unless routed.
    std::string isolate;
    for (const auto& b : cfg.bridges) {
        std::string others;
        for (const auto& o : cfg.bridges) {
            if (o.bridge == b.bridge) continue;
            bool routed = std::find(b.routed.begin(), b.routed.end(), o.bridge) != b.routed.end() ||
                          std::find(o.routed.begin(), o.routed.end(), b.bridge) != o.routed.end();
            if (!routed) others += (others.empty() ? "" : ", ") + quoted(o.bridge);
        }
        if (!others.empty()) isolate += "    iifname " + quoted(b.bridge) + " oifname { " + others + " } drop\n";
    }
    fwd = isolate + fwd;
    for (const auto& f : cfg.forwards) {
        if (f.proto != "tcp" && f.proto != "udp")
            return base::make_error(std::errc::invalid_argument, "invalid forward protocol '" + f.proto + "'");
        if (f.listen_port == 0 || f.target_port == 0)
            return base::make_error(std::errc::invalid_argument, "forward ports must be 1-65535");
        LXM_TRY(auto tfam, address_family(f.target_address));
        std::string ipk = tfam == Family::v4 ? "ip" : "ip6";
        std::string to = tfam == Family::v4 ? f.target_address + ":" + std::to_string(f.target_port)
                                            : "[" + f.target_address + "]:" + std::to_string(f.target_port);
        std::string l4 = f.proto + " dport " + std::to_string(f.listen_port);
        std::string action = " dnat " + ipk + " to " + to + "\n";
        bool wildcard = f.listen_address.empty() || f.listen_address == "0.0.0.0" || f.listen_address == "::";
        bool loopback = false;
        if (wildcard) {
            std::string fam = tfam == Family::v4 ? "ipv4" : "ipv6";
            std::string m = "    meta nfproto " + fam + " fib daddr type local ";
            std::string not_loop = tfam == Family::v4 ? "ip daddr != 127.0.0.0/8 " : "ip6 daddr != ::1 ";
            pre += m + not_loop + l4 + action;
            // From the host itself, IPv4 loopback included (see NftForward).
            out += m + (tfam == Family::v4 ? "" : not_loop) + l4 + action;
            loopback = tfam == Family::v4;
        } else {
            LXM_TRY(auto lfam, address_family(f.listen_address));
            if (lfam != tfam)
                return base::make_error(std::errc::invalid_argument,
                                        "forward listen " + f.listen_address + " and target " + f.target_address +
                                            " are of different families");
            if (lfam == Family::v6 && f.listen_address == "::1")
                return base::make_error(std::errc::invalid_argument, "IPv6 loopback listen address ::1 cannot be served by DNAT");
            std::string m = "    " + ipk + " daddr " + f.listen_address + " " + l4;
            loopback = lfam == Family::v4 && (parse_ipv4(f.listen_address).value() >> 24) == 127;
            if (!loopback) pre += m + action;
            out += m + action;
        }
        if (loopback) {
            std::string m = "    ip saddr 127.0.0.0/8 ip daddr " + f.target_address + " " + f.proto + " dport " +
                            std::to_string(f.target_port) + " masquerade\n";
            if (post.find(m) == std::string::npos) post += m;
        }
    }
    const std::string t = "inet " + cfg.table;
    std::string r;
    r += "add table " + t + "\n";
    r += "delete table " + t + "\n";
    r += "table " + t + " {\n";
    r += "  chain guard { type filter hook prerouting priority raw; policy accept;\n" + guard + "  }\n";
    r += "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;\n" + post + "  }\n";
    r += "  chain forward { type filter hook forward priority filter; policy accept;\n" + fwd + "  }\n";
    r += "  chain input { type filter hook input priority filter; policy accept;\n" + in + "  }\n";
    r += "  chain prerouting { type nat hook prerouting priority dstnat; policy accept;\n" + pre + "  }\n";
    r += "  chain output { type nat hook output priority -100; policy accept;\n" + out + "  }\n";
    r += "}\n";
    return r;
}

base::Result<std::string> nft_run(const std::string& commands, bool json) {
    NftCtx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
    if (!ctx) return base::make_error(std::errc::not_enough_memory, "nft_ctx_new");
    if (json) nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON);
    if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0)
        return base::make_error(std::errc::io_error, "nft: cannot buffer output");
    if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0) {
        // Each get_*_buffer call hands the buffer over and starts a new one: read it once.
        const char* eb = nft_ctx_get_error_buffer(ctx.get());
        std::string err = eb ? eb : "";
        while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
        std::errc code = err.find("No such file or directory") != std::string::npos ? std::errc::no_such_file_or_directory
                         : err.find("Operation not permitted") != std::string::npos ? std::errc::operation_not_permitted
                                                                                      : std::errc::invalid_argument;
        return base::make_error(code, "nft: " + err);
    }
    const char* o = nft_ctx_get_output_buffer(ctx.get());
    return std::string(o ? o : "");
}

base::Result<void> nft_apply(const NftConfig& cfg) {
    LXM_TRY(auto text, render_ruleset(cfg));
    LXM_TRY_VOID(wrap(nft_run(text), "apply table inet " + cfg.table));
    return {};
}

base::Result<void> nft_delete_table(const std::string& table) {
    if (!valid_table_name(table)) return base::make_error(std::errc::invalid_argument, "invalid nft table name '" + table + "'");
    LXM_TRY_VOID(wrap(nft_run("add table inet " + table + "\ndelete table inet " + table + "\n"),
                      "delete table inet " + table));
    return {};
}

base::Result<std::string> nft_list_table_json(const std::string& table) {
    if (!valid_table_name(table)) return base::make_error(std::errc::invalid_argument, "invalid nft table name '" + table + "'");
    return nft_run("list table inet " + table, true);
}

std::optional<std::string> find_forward_drop(const std::string& ruleset_json, const std::string& our_table) {
    auto doc = nlohmann::json::parse(ruleset_json, nullptr, false);
    if (doc.is_discarded() || !doc.contains("nftables") || !doc["nftables"].is_array()) return std::nullopt;
    auto ours = [&](const nlohmann::json& o) {
        return o.value("family", "") == "inet" && o.value("table", "") == our_table;
    };
    // Base chains at the forward hook, keyed family/table/chain.
    std::vector<std::string> findings;
    std::vector<std::string> fwd_chains;
    for (const auto& item : doc["nftables"]) {
        if (!item.contains("chain")) continue;
        const auto& c = item["chain"];
        if (ours(c) || c.value("hook", "") != "forward") continue;
        std::string id = c.value("family", "") + " " + c.value("table", "") + " " + c.value("name", "");
        fwd_chains.push_back(id);
        if (c.value("policy", "") == "drop") findings.push_back("chain " + id + " has policy drop");
    }
    for (const auto& item : doc["nftables"]) {
        if (!item.contains("rule")) continue;
        const auto& r = item["rule"];
        if (ours(r)) continue;
        std::string id = r.value("family", "") + " " + r.value("table", "") + " " + r.value("chain", "");
        if (std::find(fwd_chains.begin(), fwd_chains.end(), id) == fwd_chains.end()) continue;
        const auto& ex = r.contains("expr") ? r["expr"] : nlohmann::json::array();
        bool uncond = ex.is_array() && ex.size() == 1 && (ex[0].contains("drop") || ex[0].contains("reject"));
        if (uncond) findings.push_back("chain " + id + " ends in an unconditional drop");
    }
    if (findings.empty()) return std::nullopt;
    std::string msg = "the host firewall may drop traffic forwarded for lxm bridges (";
    for (size_t i = 0; i < findings.size(); ++i) msg += (i ? "; " : "") + findings[i];
    msg += "): containers may not reach other networks; allow forwarding for the bridge there";
    return msg;
}

base::Result<std::optional<std::string>> detect_forward_drop(const std::string& our_table) {
    LXM_TRY(auto text, nft_run("list ruleset", true));
    return find_forward_drop(text, our_table);
}

base::Result<void> enable_route_localnet(const std::string& bridge) {
    if (!valid_link_name(bridge)) return base::make_error(std::errc::invalid_argument, "invalid bridge name '" + bridge + "'");
    return base::write_file("/proc/sys/net/ipv4/conf/" + bridge + "/route_localnet", "1\n");
}

base::Result<bool> enable_ip_forward(bool ipv6) {
    bool changed = false;
    auto ensure = [&](const std::string& path) -> base::Result<void> {
        LXM_TRY(auto cur, base::read_file(path, 64));
        if (!cur.empty() && cur[0] == '1') return {};
        LXM_TRY_VOID(base::write_file(path, "1\n"));
        changed = true;
        return {};
    };
    LXM_TRY_VOID(ensure("/proc/sys/net/ipv4/ip_forward"));
    if (ipv6) LXM_TRY_VOID(ensure("/proc/sys/net/ipv6/conf/all/forwarding"));
    return changed;
}

}  // namespace lxm::netd
