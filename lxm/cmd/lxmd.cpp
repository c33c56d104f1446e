// lxmd: the lxm daemon. Runs in the foreground, logs to stderr, serves the
// LXD-shaped API on $LXM_DIR/unix.socket. Containers are supervised by their
// own lxm-monitor processes: stopping or killing lxmd never stops them, and at
// start lxmd reconciles the database with what runs.
//
//   lxmd [--debug] [--state-dir DIR] [--group GROUP] [--recover] [--default-network NAME]
//
// --default-network: the bridge created on first start and put into the default
// profile as eth0 (default lxmbr0, "none" for none; tests use their own name).
//
// --recover: re-insert instances whose database rows are missing, from the
// backup file each instance keeps beside its root volume, print what was
// done, and exit (the API offers the same as POST /internal/recover).
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "lxm/api/api.hpp"
#include "lxm/api/backup_routes.hpp"
#include "lxm/api/daemon_routes.hpp"
#include "lxm/api/migration_routes.hpp"
#include "lxm/api/network_routes.hpp"
#include "lxm/api/remote_access.hpp"
#include "lxm/api/storage_routes.hpp"
#include "lxm/base/log.hpp"
#include "lxm/base/memory.hpp"
#include "lxm/core/backups.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/images.hpp"
#include "lxm/core/instances.hpp"
#include "lxm/core/migration.hpp"
#include "lxm/core/networks.hpp"
#include "lxm/core/profiles.hpp"
#include "lxm/core/snapshot_scheduler.hpp"
#include "lxm/core/storage_pools.hpp"
#include "store/server_config.hpp"

using namespace lxm;

namespace {

std::string self_dir() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string p(buf, static_cast<size_t>(n));
    return p.substr(0, p.rfind('/'));
}

void init_log(bool debug) {
    auto logger = spdlog::stderr_logger_mt("lxmd");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e lxmd[%P] %l: %v");
    logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
    logger->flush_on(spdlog::level::debug);
    spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"lxmd: the lxm daemon (LXD-compatible API on a unix socket)"};
    bool debug = false, recover = false;
    std::string state_dir = core::default_state_dir();
    std::string group;
    app.add_flag("--debug", debug, "Log at debug level");
    app.add_option("--state-dir", state_dir, "State directory (default $LXM_DIR or /var/lib/lxm)");
    app.add_option("--group", group, "Group that may use the API socket (mode 0660)");
    std::string default_network = "lxmbr0";
    app.add_option("--default-network", default_network,
                   "Network created on first start and attached to the default profile (\"none\" for none)");
    std::string nft_table = "lxm";
    app.add_option("--nft-table", nft_table, "nft table of lxm's NAT/forward rules (tests use their own)");
    std::string https_address;
    app.add_option("--https-address", https_address,
                   "Also serve the API over HTTPS on this address, e.g. [::]:8443 (stored as core.https_address)");
    app.add_flag("--recover", recover, "Rebuild missing database rows from the instances' backup files, then exit");
    CLI11_PARSE(app, argc, argv);

    init_log(debug);
    // Signals are taken synchronously by the main thread; every thread inherits this mask.
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    ::umask(022);

    std::string monitor_bin = self_dir() + "/lxm-monitor";
    if (::access(monitor_bin.c_str(), X_OK) != 0) {
        LXM_ERROR("cannot find lxm-monitor at {}", monitor_bin);
        return 1;
    }
    auto state = core::DaemonState::open(state_dir, monitor_bin);
    if (!state) {
        LXM_ERROR("cannot open state dir {}: {}", state_dir, state.error().message());
        return 1;
    }
    core::Images images(**state);
    // Stand-in image source until the image store lands: the recipes (see lxm/core/images.hpp).
    if (auto r = images.register_builtin(); !r) LXM_WARN("built-in images not registered: {}", r.error().message());
    core::StoragePools storage_pools(**state);
    if (auto r = storage_pools.startup(); !r) LXM_WARN("storage pools: {}", r.error().message());
    core::Instances instances(**state, images);
    core::Profiles profiles(**state, instances);
    core::NetworksOptions net_opts;
    net_opts.default_network = default_network == "none" ? "" : default_network;
    net_opts.nft_table = nft_table;
    core::Networks networks(**state, net_opts);
    instances.set_networks(&networks);

    if (recover) {
        auto rep = instances.recover(false);
        if (!rep) {
            LXM_ERROR("recover: {}", rep.error().message());
            return 1;
        }
        for (const auto& r : rep->recovered) std::printf("recovered %s\n", r.name.c_str());
        for (const auto& p : rep->present) std::printf("present %s\n", p.c_str());
        for (const auto& [p, e] : rep->failed) std::printf("failed %s: %s\n", p.c_str(), e.message().c_str());
        return rep->failed.empty() ? 0 : 2;
    }

    // Half-made instances are finished or removed before anyone can see them.
    if (auto r = instances.reconcile(); !r) {
        LXM_ERROR("reconcile: {}", r.error().message());
        return 1;
    }

    // Remote access: server certificate, trust store (checked per request), HTTPS listener.
    api::RemoteAccess remote(**state);
    if (auto r = remote.init(); !r) {
        LXM_ERROR("remote access: {}", r.error().message());
        return 1;
    }
    api::ApiOptions api_opts;
    // Every request asks for its peer's trust: that also counts them (idle memory release below).
    std::atomic<uint64_t> requests{0};
    api_opts.server.trust = [&remote, &requests](const api::Peer& p) {
        requests.fetch_add(1, std::memory_order_relaxed);
        return remote.trusts(p);
    };
    api::Api api(api_opts);
    remote.attach(api);
    api::DaemonRoutes ctx{**state, images, instances, profiles};
    ctx.config_hooks.push_back(remote.config_hook());
    api::register_daemon_routes(api, ctx);
    api::register_certificate_routes(api, remote);
    api::register_network_routes(api, networks);
    api::register_storage_routes(api, storage_pools);
    core::Backups backups(**state, instances);
    backups.drop_stale_pool_snapshots();  // what killed migrations and copies left (after reconcile)
    api::register_backup_routes(api, backups, **state);  // after the instance routes (wraps POST /1.0/instances)
    core::Migration migration(**state, instances, backups);
    api::register_migration_routes(api, migration, remote.identity());  // after the backup routes (wraps them)
    // Networks come up before anything can start an instance on them.
    if (auto r = networks.startup(); !r) LXM_ERROR("networks: {}", r.error().message());
    const std::string sock = (*state)->paths().socket();
    if (auto r = api.listen_unix(sock); !r) {
        LXM_ERROR("cannot listen on {}: {}", sock, r.error().message());
        return 1;
    }
    if (!group.empty()) {
        struct group* g = ::getgrnam(group.c_str());
        if (!g) {
            LXM_ERROR("unknown group {}", group);
            return 1;
        }
        if (::chown(sock.c_str(), 0, g->gr_gid) != 0) LXM_WARN("chown {}: {}", sock, std::strerror(errno));
    }
    api.start();
    LXM_INFO("lxmd {} listening on {} (state {})", LXM_VERSION, sock, state_dir);
    if (!https_address.empty()) {
        auto r = (*state)->store().write([&](store::Transaction& tx) {
            return store::set_server_config_key(tx, api::kHttpsAddressKey, https_address);
        });
        if (!r) LXM_ERROR("--https-address: {}", r.error().message());
    }
    if (auto r = remote.start_listener(); !r) LXM_ERROR("https listener: {}", r.error().message());
    remote.relist_tokens();

    std::thread autostart([&instances] { instances.autostart(); });

    // Supervise the networks' dnsmasqs: a check every few seconds on the blocking pool.
    std::mutex check_mu;
    bool check_stopping = false;
    std::function<void()> cancel_check;
    std::function<void()> arm_check = [&] {
        std::lock_guard lk(check_mu);
        if (check_stopping) return;
        cancel_check = api.executors().schedule(std::chrono::seconds(5), [&] {
            api.executors().post_blocking([&] {
                networks.check();
                arm_check();
            });
        });
    };
    arm_check();

    // Scheduled snapshots and expiry: a tick at every minute boundary, on the blocking pool.
    auto snapshot_actions = core::instance_snapshot_actions(instances);
    core::SnapshotScheduler scheduler(*snapshot_actions);
    std::function<void()> cancel_snap_tick;
    std::function<void()> arm_snap_tick = [&] {
        std::lock_guard lk(check_mu);
        if (check_stopping) return;
        cancel_snap_tick = api.executors().schedule(scheduler.until_next_minute(), [&] {
            api.executors().post_blocking([&] {
                scheduler.tick();
                arm_snap_tick();
            });
        });
    };
    arm_snap_tick();

    // Idle memory: start-up ran much code once (image registration hashing with OpenSSL, the
    // schema checks in SQLite, the TLS identity) and so does any burst of requests or a
    // background check. On a tick that saw no request, if the resident set grew since the last
    // release, the heap's free pages and the clean pages of code and constants are given back
    // (base::release_idle_memory); what runs next faults back in.
    (void)base::release_idle_memory();
    uint64_t seen_requests = requests.load();
    size_t released_kb = base::resident_kb();
    std::function<void()> cancel_idle_tick;
    std::function<void()> arm_idle_tick = [&] {
        std::lock_guard lk(check_mu);
        if (check_stopping) return;
        cancel_idle_tick = api.executors().schedule(std::chrono::seconds(2), [&] {
            uint64_t now = requests.load();
            if (now != seen_requests) {
                seen_requests = now;
            } else if (base::resident_kb() > released_kb + 256) {
                [[maybe_unused]] auto st = base::release_idle_memory();
                released_kb = base::resident_kb();
                LXM_DEBUG("idle: released {} kB of file mappings; resident {} kB", st.file_bytes / 1024, released_kb);
            }
            arm_idle_tick();
        });
    };
    arm_idle_tick();

    int sig = 0;
    for (;;) {
        if (::sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) continue;
        break;
    }
    LXM_INFO("signal {}: shutting down (containers keep running)", sig);
    {
        std::lock_guard lk(check_mu);
        check_stopping = true;
        if (cancel_check) cancel_check();
        if (cancel_snap_tick) cancel_snap_tick();
        if (cancel_idle_tick) cancel_idle_tick();
    }
    api.stop(std::chrono::seconds(5));
    networks.detach();  // bridges and dnsmasqs keep running, like the containers
    autostart.join();
    LXM_INFO("stopped");
    return 0;
}
