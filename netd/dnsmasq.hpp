// One dnsmasq (from dnsmasq-base) per managed bridge: DHCP and DNS for the
// bridge's containers, nothing upstream (--no-resolv). Its files live in the
// network's state dir:
//   dnsmasq.pid     written by dnsmasq (it daemonizes: it outlives lxmd)
//   dnsmasq.leases  its lease database (survives restarts of dnsmasq)
//   dnsmasq.hosts   static hosts "mac[,ip],name" (--dhcp-hostsfile, re-read on SIGHUP)
// The process is found again by pid file + /proc/<pid>/cmdline (which must name
// this bridge), signalled through a pidfd so a recycled pid is never hit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::netd {

struct DnsmasqConfig {
    std::string bridge;                    // --interface
    std::string state_dir;                 // pid, leases and hosts files (must exist, mode 0755)
    std::string ipv4_address;              // bridge address without prefix, "" for none
    std::vector<std::string> dhcp_ranges;  // "10.1.2.2,10.1.2.254"; empty: no DHCPv4
    std::string ipv6_address;              // bridge IPv6 address without prefix, "" for none
    bool ipv6_ra = true;                   // router advertisements + stateless DHCPv6 (when ipv6_address)
    std::string domain = "lxm";            // --domain and --local=/domain/
    std::string lease_time = "1h";
    unsigned mtu = 0;                      // DHCP option 26 when non-zero
    std::string binary = "dnsmasq";
    std::string user = "nobody";           // privileges dnsmasq drops to
    std::string group = "nogroup";
};

struct StaticHost {
    std::string mac;   // "00:16:3e:.."
    std::string ipv4;  // "" for a dynamic address with a fixed name
    std::string name;  // hostname (the instance name)
};

struct Lease {
    int64_t expiry = 0;     // unix time, 0 = infinite
    std::string mac;        // empty for DHCPv6 leases
    std::string address;    // IPv4 or IPv6
    std::string hostname;   // empty when the client sent none
    std::string client_id;  // empty when "*"
};

// Pure helpers (unit tested).
std::vector<std::string> dnsmasq_argv(const DnsmasqConfig& cfg);
base::Result<std::string> render_hosts_file(const std::vector<StaticHost>& hosts);
std::vector<Lease> parse_leases(std::string_view text);
// RFC 1123 label (letters, digits, '-', not at the ends), up to 63 chars.
bool valid_hostname(std::string_view name);

class Dnsmasq {
public:
    explicit Dnsmasq(DnsmasqConfig cfg);

    const DnsmasqConfig& config() const { return cfg_; }
    std::string pid_file() const { return cfg_.state_dir + "/dnsmasq.pid"; }
    std::string lease_file() const { return cfg_.state_dir + "/dnsmasq.leases"; }
    std::string hosts_file() const { return cfg_.state_dir + "/dnsmasq.hosts"; }

    // Start unless already running (then nothing happens). dnsmasq reports its own
    // startup errors (bad address, port in use) through its exit status.
    base::Result<void> start();
    // SIGTERM, wait up to timeout, then SIGKILL. Not running is success.
    base::Result<void> stop(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // SIGHUP: re-read the hosts file. Not running is success (the next start reads it).
    base::Result<void> reload();
    // For the daemon's loop: start it again if it died. Returns true when it restarted.
    base::Result<bool> check_and_restart();
    // Write the static hosts (atomically) and reload.
    base::Result<void> set_static_hosts(const std::vector<StaticHost>& hosts);
    // The pid of this bridge's dnsmasq when it runs.
    std::optional<pid_t> running_pid() const;
    base::Result<std::vector<Lease>> leases() const;

private:
    DnsmasqConfig cfg_;
};

}  // namespace lxm::netd
