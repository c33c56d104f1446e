#include "lxm/core/proxy_relays.hpp"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/base/spawn.hpp"
#include "lxm/base/unique_fd.hpp"
#include "netd/proxy_relay.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;

namespace {

constexpr std::string_view kPrefix = "proxy.";
constexpr std::string_view kSuffix = ".json";

bool wait_exit(int pidfd, int ms) {
    pollfd p{pidfd, POLLIN, 0};
    int r;
    while ((r = ::poll(&p, 1, ms)) < 0 && errno == EINTR) {
    }
    return r == 1;
}

// End the relay of a live record: SIGTERM (it removes its record and unix socket),
// SIGKILL after 2 s. The pidfd, taken after the record was checked, makes sure the
// signals reach that process and no other that reused its pid.
void end_relay(const std::string& path, const netd::RelayRecord& rec) {
    base::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, rec.pid, 0)));
    if (pidfd && netd::relay_record_live(path, rec)) {
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGTERM, nullptr, 0);
        if (!wait_exit(pidfd.get(), 2000)) {
            LXM_WARN("proxy relay {} (pid {}) did not end on SIGTERM: killed", path, rec.pid);
            ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
            wait_exit(pidfd.get(), 1000);
        }
    }
    ::unlink(path.c_str());
}

}  // namespace

std::string ProxyRelays::record_path(const std::string& instance, const std::string& device) const {
    return paths_.run_dir(instance) + "/" + std::string(kPrefix) + device + std::string(kSuffix);
}

std::map<std::string, std::string> ProxyRelays::records(const std::string& instance) const {
    std::map<std::string, std::string> out;
    std::string dir = paths_.run_dir(instance);
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.size() <= kPrefix.size() + kSuffix.size() || !n.starts_with(kPrefix) || !n.ends_with(kSuffix)) continue;
        out[n.substr(kPrefix.size(), n.size() - kPrefix.size() - kSuffix.size())] = dir + "/" + n;
    }
    ::closedir(d);
    return out;
}

Result<void> ProxyRelays::sync(const std::string& instance, const std::map<std::string, ProxyDevice>& want,
                               pid_t target_pid) {
    std::optional<base::Error> first;
    std::map<std::string, bool> live;  // device -> its relay serves what is wanted
    for (const auto& [dev, path] : records(instance)) {
        auto rec = netd::read_relay_record(path);
        if (!rec) {
            ::unlink(path.c_str());
            continue;
        }
        if (!netd::relay_record_live(path, *rec)) {  // killed (or its pid reused): the record is stale
            ::unlink(path.c_str());
            continue;
        }
        auto w = want.find(dev);
        bool keep = target_pid > 0 && w != want.end() && rec->target_pid == target_pid &&
                    rec->listen == w->second.listen.to_string() && rec->connect == w->second.connect.to_string() &&
                    rec->listen_dac == w->second.listen_dac.to_string();
        if (keep) {
            live[dev] = true;
            continue;
        }
        LXM_INFO("instance {}: ending the relay of proxy device {} (pid {})", instance, dev, rec->pid);
        end_relay(path, *rec);
    }
    if (target_pid <= 0) return {};
    for (const auto& [dev, p] : want) {
        if (live.contains(dev)) continue;
        std::string record = record_path(instance, dev);
        if (auto r = base::mkdir_p(paths_.log_dir(instance), 0700); !r && !first) first = r.error();
        base::SpawnOptions o;
        o.argv = {bin_,
                  "--listen", p.listen.to_string(),
                  "--connect", p.connect.to_string(),
                  "--pid", std::to_string(target_pid),
                  "--record", record,
                  "--log", paths_.log_dir(instance) + "/proxy." + dev + ".log"};
        if (p.listen_dac.uid >= 0) o.argv.insert(o.argv.end(), {"--uid", std::to_string(p.listen_dac.uid)});
        if (p.listen_dac.gid >= 0) o.argv.insert(o.argv.end(), {"--gid", std::to_string(p.listen_dac.gid)});
        if (!p.listen_dac.is_default()) {
            char mode[16];
            std::snprintf(mode, sizeof mode, "%04o", p.listen_dac.mode);
            o.argv.insert(o.argv.end(), {"--mode", mode});
        }
        o.inherit_env = false;
        o.timeout = std::chrono::seconds(10);
        auto r = base::spawn_capture(o);
        if (!r) {
            if (!first) first = base::wrap(r.error(), "proxy device " + dev + ": start " + bin_);
            continue;
        }
        std::string why = r->err;
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        if (why.starts_with("lxm-proxy: ")) why = why.substr(11);
        if (r->exit_code == 3) {
            if (!first)
                first = http_error(400, "Proxy device \"" + dev + "\": cannot listen on " + p.listen.to_string() + ": " + why).error();
            continue;
        }
        if (!r->success()) {
            if (!first)
                first = base::make_error(std::errc::io_error, "proxy device " + dev + ": relay " + r->status_text() + ": " + why).error();
            continue;
        }
        LXM_INFO("instance {}: proxy device {}: relay {} -> {} started ({})", instance, dev, p.listen.to_string(),
                 p.connect.to_string(), r->out.substr(0, r->out.find('\n')));
    }
    if (first) return std::unexpected(*first);
    return {};
}

std::vector<std::pair<std::string, ProxyEndpoint>> ProxyRelays::live_listens() const {
    std::vector<std::pair<std::string, ProxyEndpoint>> out;
    std::string root = paths_.root + "/containers";
    DIR* d = ::opendir(root.c_str());
    if (!d) return out;
    std::vector<std::string> instances;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") instances.push_back(n);
    }
    ::closedir(d);
    for (const auto& inst : instances)
        for (const auto& [dev, path] : records(inst)) {
            auto rec = netd::read_relay_record(path);
            if (!rec || !netd::relay_record_live(path, *rec)) continue;
            auto l = netd::parse_relay_endpoint(rec->listen);
            if (l) out.emplace_back(inst + "/" + dev, *l);
        }
    return out;
}

}  // namespace lxm::core
