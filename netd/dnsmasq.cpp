#include "netd/dnsmasq.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>
#include <thread>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "lxm/base/unique_fd.hpp"
#include "netd/link.hpp"

namespace lxm::netd {
namespace {

std::vector<std::string_view> split_ws(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

base::Result<base::UniqueFd> pidfd_open(pid_t pid) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return base::errno_error("pidfd_open " + std::to_string(pid));
    return base::UniqueFd(fd);
}

bool pidfd_signal(int pidfd, int sig) { return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0; }

// Wait until the process behind pidfd exits (pidfd readable) or timeout.
bool pidfd_wait(int pidfd, std::chrono::milliseconds timeout) {
    pollfd p{pidfd, POLLIN, 0};
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

}  // namespace

bool valid_hostname(std::string_view n) {
    if (n.empty() || n.size() > 63 || n.front() == '-' || n.back() == '-') return false;
    for (char c : n)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    return true;
}

std::vector<std::string> dnsmasq_argv(const DnsmasqConfig& c) {
    std::vector<std::string> a{
        c.binary,
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--strict-order",
        "--bind-interfaces",
        "--interface=" + c.bridge,
        "--except-interface=lo",
        "--pid-file=" + c.state_dir + "/dnsmasq.pid",
        "--dhcp-leasefile=" + c.state_dir + "/dnsmasq.leases",
        "--dhcp-hostsfile=" + c.state_dir + "/dnsmasq.hosts",
        "--dhcp-no-override",
        "--dhcp-authoritative",
        "--no-ping",
        "--user=" + c.user,
        "--group=" + c.group,
    };
    if (!c.ipv4_address.empty()) a.push_back("--listen-address=" + c.ipv4_address);
    if (!c.ipv6_address.empty()) a.push_back("--listen-address=" + c.ipv6_address);
    for (const auto& r : c.dhcp_ranges) a.push_back("--dhcp-range=" + r + "," + c.lease_time);
    if (!c.dhcp_ranges.empty()) a.push_back("--dhcp-rapid-commit");
    if (!c.ipv6_address.empty() && c.ipv6_ra) {
        a.push_back("--enable-ra");
        a.push_back("--dhcp-range=::,constructor:" + c.bridge + ",ra-stateless,ra-names");
    }
    if (c.mtu) a.push_back("--dhcp-option-force=26," + std::to_string(c.mtu));
    if (!c.domain.empty()) {
        a.push_back("--domain=" + c.domain);
        a.push_back("--local=/" + c.domain + "/");
        a.push_back("--interface-name=_gateway." + c.domain + "," + c.bridge);
    }
    return a;
}

base::Result<std::string> render_hosts_file(const std::vector<StaticHost>& hosts) {
    std::string out;
    for (const auto& h : hosts) {
        LXM_TRY_VOID(parse_mac(h.mac));
        if (!valid_hostname(h.name)) return base::make_error(std::errc::invalid_argument, "invalid host name '" + h.name + "'");
        out += h.mac;
        if (!h.ipv4.empty()) {
            // Only a plain dotted quad may reach the file.
            for (char c : h.ipv4)
                if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.'))
                    return base::make_error(std::errc::invalid_argument, "invalid IPv4 address '" + h.ipv4 + "'");
            out += "," + h.ipv4;
        }
        out += "," + h.name + "\n";
    }
    return out;
}

std::vector<Lease> parse_leases(std::string_view text) {
    std::vector<Lease> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        auto f = split_ws(line);
        if (f.size() < 4 || f[0] == "duid") continue;
        Lease l;
        auto [p, ec] = std::from_chars(f[0].data(), f[0].data() + f[0].size(), l.expiry);
        if (ec != std::errc{}) continue;
        bool v6 = f[2].find(':') != std::string_view::npos;
        // IPv4 lines carry the MAC in field 2; IPv6 lines carry the IAID there.
        if (!v6) l.mac = std::string(f[1]);
        l.address = std::string(f[2]);
        if (f[3] != "*") l.hostname = std::string(f[3]);
        if (f.size() > 4 && f[4] != "*") l.client_id = std::string(f[4]);
        out.push_back(std::move(l));
    }
    return out;
}

Dnsmasq::Dnsmasq(DnsmasqConfig cfg) : cfg_(std::move(cfg)) {}

std::optional<pid_t> Dnsmasq::running_pid() const {
    auto text = base::read_file(pid_file(), 64);
    if (!text) return std::nullopt;
    pid_t pid = 0;
    auto s = std::string_view(*text);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
    if (ec != std::errc{} || pid <= 1) return std::nullopt;
    // A zombie or a recycled pid has a different (or empty) command line.
    auto cmd = base::read_file("/proc/" + std::to_string(pid) + "/cmdline", 64 * 1024);
    if (!cmd) return std::nullopt;
    std::string want = std::string("--interface=") + cfg_.bridge;
    std::string_view c(*cmd);
    bool is_dnsmasq = false, is_ours = false;
    size_t i = 0;
    for (int arg = 0; i < c.size(); ++arg) {
        size_t z = c.find('\0', i);
        std::string_view a = c.substr(i, z == std::string_view::npos ? std::string_view::npos : z - i);
        if (arg == 0 && a.find("dnsmasq") != std::string_view::npos) is_dnsmasq = true;
        if (a == want) is_ours = true;
        if (z == std::string_view::npos) break;
        i = z + 1;
    }
    if (!is_dnsmasq || !is_ours) return std::nullopt;
    return pid;
}

base::Result<void> Dnsmasq::start() {
    if (running_pid()) return {};
    if (!base::path_exists(hosts_file())) LXM_TRY_VOID(base::write_file_atomic(hosts_file(), "", 0644));
    (void)::unlink(pid_file().c_str());
    base::SpawnOptions o;
    o.argv = dnsmasq_argv(cfg_);
    o.timeout = std::chrono::seconds(20);
    LXM_TRY_VOID(wrap(base::spawn_checked(o), "start dnsmasq for " + cfg_.bridge));
    // The daemon writes its pid file right after forking; give it a moment.
    for (int i = 0; i < 200; ++i) {
        if (running_pid()) return {};
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return base::make_error(std::errc::no_such_process, "dnsmasq for " + cfg_.bridge + " started but is not running");
}

base::Result<void> Dnsmasq::stop(std::chrono::milliseconds timeout) {
    auto pid = running_pid();
    if (!pid) return {};
    auto fd = pidfd_open(*pid);
    if (!fd) return fd.error().code == std::errc::no_such_process ? base::Result<void>{} : base::Result<void>(std::unexpected(fd.error()));
    // Identity again now that the pidfd pins the process.
    if (running_pid() != pid) return {};
    if (!pidfd_signal(fd->get(), SIGTERM)) {
        if (errno == ESRCH) return {};
        return base::errno_error("signal dnsmasq " + std::to_string(*pid));
    }
    if (!pidfd_wait(fd->get(), timeout)) {
        (void)pidfd_signal(fd->get(), SIGKILL);
        if (!pidfd_wait(fd->get(), std::chrono::seconds(5)))
            return base::make_error(std::errc::timed_out, "dnsmasq " + std::to_string(*pid) + " did not exit");
    }
    (void)::unlink(pid_file().c_str());
    return {};
}

base::Result<void> Dnsmasq::reload() {
    auto pid = running_pid();
    if (!pid) return {};
    LXM_TRY(auto fd, pidfd_open(*pid));
    if (running_pid() != pid) return {};
    if (!pidfd_signal(fd.get(), SIGHUP) && errno != ESRCH) return base::errno_error("SIGHUP dnsmasq " + std::to_string(*pid));
    return {};
}

base::Result<bool> Dnsmasq::check_and_restart() {
    if (running_pid()) return false;
    LXM_TRY_VOID(start());
    return true;
}

base::Result<void> Dnsmasq::set_static_hosts(const std::vector<StaticHost>& hosts) {
    LXM_TRY(auto text, render_hosts_file(hosts));
    LXM_TRY_VOID(base::write_file_atomic(hosts_file(), text, 0644));
    return reload();
}

base::Result<std::vector<Lease>> Dnsmasq::leases() const {
    if (!base::path_exists(lease_file())) return std::vector<Lease>{};
    LXM_TRY(auto text, base::read_file(lease_file()));
    return parse_leases(text);
}

}  // namespace lxm::netd
