// Two lxmd "hosts" on one machine for migration tests: a test bridge on the host
// (lxmt-mbr<N>, the host's address .1 on it), and per host a network namespace
// (lxmt-mig<N>-<i>) joined to the bridge by a veth pair (lxmt-m<N>h<i> on the host
// side), address .2 / .3 of a 10.x.y.0/24 that no route or address of the host uses
// (netd::choose_ipv4_subnet over netd::read_used_networks: read, never probed).
// Each lxmd runs in its namespace (setns before exec) with its own state dir and
// --https-address <addr>:8443. Everything is removed at destruction, even after a
// failure: containers force-stopped through their monitors, lxmds stopped by pid,
// namespaces and links deleted.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/support/test_env.hpp"

namespace lxm::test {

class TwoHosts {
public:
    struct Host {
        std::string ns;        // network namespace name
        std::string veth;      // host-side veth
        std::string address;   // "10.x.y.2"
        std::string https;     // "10.x.y.2:8443"
        std::string state;     // its LXM_DIR
        std::string log;       // its lxmd log
        pid_t pid = -1;
        std::string socket() const { return state + "/unix.socket"; }
    };

    TwoHosts();
    ~TwoHosts();
    TwoHosts(const TwoHosts&) = delete;
    TwoHosts& operator=(const TwoHosts&) = delete;

    // Bridge, namespaces, links, addresses. false with the reason in *why.
    bool setup(std::string* why);
    // An environment variable ("K=V") for the lxmds started from now on.
    void add_env(std::string kv) { env_.push_back(std::move(kv)); }
    // Start host i's lxmd (again); waits for its socket. false with its log in *why.
    bool start(int i, std::string* why);
    // Signal host i's lxmd by pid and reap it.
    void stop(int i, int sig);
    // Force-stop every container host i's state dir has a monitor for.
    void kill_containers(int i);
    // Take host i's link down / up (cuts its network as a pulled cable would).
    bool link(int i, bool up);

    Host& host(int i) { return hosts_[i]; }
    const std::string& host_address() const { return host_addr_; }
    std::string log(int i) const;

private:
    TempDir dir_{"mig"};
    std::string bridge_;
    std::string host_addr_;
    std::vector<Host> hosts_;
    bool made_bridge_ = false;
    std::vector<std::string> env_;
};

}  // namespace lxm::test
