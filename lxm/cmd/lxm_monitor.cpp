// lxm-monitor: one per running container (see lxm/runtime/monitor.hpp).
//   lxm-monitor --spec FILE [--ready-fd N] [--foreground]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "lxm/runtime/monitor.hpp"
#include "netd/link.hpp"
#include "netd/nic_plug.hpp"

int main(int argc, char** argv) {
    std::string spec;
    int ready_fd = -1;
    bool foreground = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--spec" && i + 1 < argc) spec = argv[++i];
        else if (a == "--ready-fd" && i + 1 < argc) ready_fd = std::atoi(argv[++i]);
        else if (a == "--foreground") foreground = true;
        else {
            std::fprintf(stderr, "usage: lxm-monitor --spec FILE [--ready-fd N] [--foreground]\n");
            return 2;
        }
    }
    if (spec.empty()) {
        std::fprintf(stderr, "lxm-monitor: --spec is required\n");
        return 2;
    }
    // lxmd describes each nic in nics.json beside the spec: on a reboot inside the
    // container (a fresh netns) the pair is recreated from it (netd/nic_plug.hpp).
    std::string plug_file = spec.substr(0, spec.find_last_of('/') + 1) + "nics.json";
    auto move_link = [plug_file](pid_t pid, const std::string& host, const std::string& inside) -> lxm::base::Result<void> {
        LXM_TRY(auto plugs, lxm::netd::read_nic_plugs(plug_file));
        for (const auto& p : plugs)
            if (p.peer == host && p.inside_name == inside) return lxm::netd::plug_nic(p, pid);
        return lxm::netd::move_link_to_netns(host, pid, inside);
    };
    return lxm::runtime::monitor_main(spec, ready_fd, foreground, move_link);
}
