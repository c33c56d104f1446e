#include "netd/nic_plug.hpp"

#include <nlohmann/json.hpp>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "netd/link.hpp"

namespace lxm::netd {

using base::Result;

Result<void> write_nic_plugs(const std::string& path, const std::vector<NicPlug>& plugs) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : plugs)
        j.push_back({{"host_veth", p.host_veth}, {"peer", p.peer}, {"inside_name", p.inside_name},
                     {"bridge", p.bridge}, {"mac", p.mac}, {"mtu", p.mtu}});
    return base::write_file_atomic(path, j.dump(2) + "\n", 0600);
}

Result<std::vector<NicPlug>> read_nic_plugs(const std::string& path) {
    std::vector<NicPlug> out;
    if (!base::path_exists(path)) return out;
    LXM_TRY(auto text, base::read_file(path, 1 << 20));
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_array()) return base::make_error(std::errc::invalid_argument, "corrupt " + path);
    for (const auto& e : j) {
        if (!e.is_object()) continue;
        NicPlug p;
        p.host_veth = e.value("host_veth", "");
        p.peer = e.value("peer", "");
        p.inside_name = e.value("inside_name", "");
        p.bridge = e.value("bridge", "");
        p.mac = e.value("mac", "");
        p.mtu = e.value("mtu", 0u);
        if (!valid_link_name(p.host_veth) || !valid_link_name(p.peer) || !valid_link_name(p.inside_name) ||
            !valid_link_name(p.bridge))
            return base::make_error(std::errc::invalid_argument, "corrupt entry in " + path);
        out.push_back(std::move(p));
    }
    return out;
}

Result<void> plug_nic(const NicPlug& plug, pid_t pid) {
    LXM_TRY(auto peer, get_link(plug.peer));
    base::Reverter revert;
    if (!peer) {
        LXM_TRY_VOID(delete_link_if_exists(plug.host_veth));
        LXM_TRY_VOID(create_veth(plug.host_veth, plug.peer, plug.mtu));
        revert.add([h = plug.host_veth] { (void)delete_link_if_exists(h); });
        if (!plug.mac.empty()) LXM_TRY_VOID(set_mac(plug.peer, plug.mac));
        LXM_TRY_VOID(set_master(plug.host_veth, plug.bridge));
        LXM_TRY_VOID(set_link_up(plug.host_veth));
    }
    LXM_TRY_VOID(move_link_to_netns(plug.peer, pid, plug.inside_name));
    revert.success();
    return {};
}

}  // namespace lxm::netd
