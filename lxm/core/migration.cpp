#include "lxm/core/migration.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/base/spawn.hpp"
#include "lxm/core/backup_tar.hpp"
#include "lxm/core/names.hpp"
#include "store/archive_unpack.hpp"
#include "store/pool_fs.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;
using nlohmann::json;

namespace {

// Calls beat() every `period` on a thread of its own until destroyed.
class Heartbeat {
public:
    Heartbeat(std::chrono::milliseconds period, std::function<void()> beat) {
        if (!beat) return;
        thread_ = std::thread([this, period, beat = std::move(beat)] {
            std::unique_lock lk(mu_);
            while (!cv_.wait_for(lk, period, [this] { return stop_; })) {
                lk.unlock();
                beat();
                lk.lock();
            }
        });
    }
    ~Heartbeat() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    Heartbeat(const Heartbeat&) = delete;
    Heartbeat& operator=(const Heartbeat&) = delete;

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

std::chrono::milliseconds beat_period() { return std::max(Migration::idle_timeout() / 4, std::chrono::milliseconds(200)); }

// The next control message that is not a keepalive.
Result<json> recv_answer(const MigrationChannels& ch) {
    for (;;) {
        LXM_TRY(json m, ch.recv_control());
        if (!(m.is_object() && m.value("keepalive", false))) return m;
    }
}

}  // namespace

std::chrono::milliseconds Migration::idle_timeout() {
    static const std::chrono::milliseconds t = [] {
        const char* v = std::getenv("LXM_MIGRATION_TIMEOUT");
        if (v && *v) {
            char* end = nullptr;
            double s = std::strtod(v, &end);
            if (end && *end == '\0' && s > 0 && s < 86400)
                return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
            LXM_WARN("LXM_MIGRATION_TIMEOUT={}: not a number of seconds; using 60", v);
        }
        return std::chrono::milliseconds(60000);
    }();
    return t;
}

Migration::Migration(DaemonState& state, Instances& instances, Backups& backups)
    : state_(state), instances_(instances), backups_(backups) {}

std::string Migration::criu_problem() {
    base::SpawnOptions o;
    o.argv = {"criu", "check"};
    o.argv[0] = base::path_exists("/usr/sbin/criu") ? "/usr/sbin/criu" : "criu";
    o.env = {"LC_ALL=C"};
    o.timeout = std::chrono::seconds(60);
    auto r = base::spawn_capture(o);
    if (!r) return "criu is not installed or cannot run (" + r.error().message() + ")";
    if (r->exit_code == 0) return {};
    std::string out = r->err + r->out;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (out.size() > 2000) out = out.substr(0, 2000) + "...";
    return out.empty() ? "criu check failed (exit " + std::to_string(r->exit_code) + ")" : out;
}

Result<void> Migration::check_source(const std::string& name, bool live) {
    LXM_TRY(auto st, instances_.state(name));
    if (live && st.status == "Running") {
        std::string why = criu_problem();
        if (!why.empty())
            return http_error(400, "Live migration of \"" + name +
                                       "\" is not possible: CRIU cannot checkpoint containers on this host "
                                       "(criu check: " + why + "). Stop the instance or copy it without --live "
                                       "(stateless); the instance keeps running");
        return http_error(501, "Live migration of \"" + name +
                                   "\": CRIU works on this host but lxm does not checkpoint user-namespaced "
                                   "containers yet; copy it stopped (stateless)");
    }
    return {};
}

Result<void> Migration::check_target(const std::string& name, bool refresh) {
    LXM_TRY_VOID(validate_instance_name(name));
    if (!instances_.get(name)) return {};
    if (!refresh) return http_error(409, "Instance \"" + name + "\" already exists");
    LXM_TRY(auto st, instances_.state(name));
    if (st.status != "Stopped")
        return http_error(400, "Cannot refresh \"" + name + "\" while it is " + st.status + ": stop it first");
    return {};
}

Result<void> Migration::send(const std::string& name, const MigrationSendOptions& opts, const MigrationChannels& ch,
                             const Progress& progress) {
    LXM_TRY(json hello, base::wrap(ch.recv_control(), "migration control"));
    if (hello.is_object() && hello.contains("success") && !hello.value("success", false))
        return base::make_error(std::errc::io_error, "the target refused: " + hello.value("message", std::string("?")));
    std::vector<std::string> have;
    if (hello.is_object() && hello.contains("have") && hello["have"].is_array())
        for (const auto& h : hello["have"])
            if (h.is_string()) have.push_back(h.get<std::string>());
    std::vector<std::string> snaps;
    std::vector<store::SnapshotRecord> all;
    const bool of_snapshot = !opts.snapshot.empty();  // that user snapshot is the root, alone
    if (!opts.instance_only && !of_snapshot) {
        LXM_TRY(auto recs, state_.store().read(
                               [&](store::Transaction& tx) { return store::list_snapshots(tx, "default", name); }));
        all = std::move(recs);
        for (const auto& s : all)
            if (std::find(have.begin(), have.end(), s.name) == have.end()) snaps.push_back(s.name);
    }
    LXM_TRY_VOID(base::wrap(ch.send_control(json{{"snapshots", snapshot_offer(all)},
                                                 {"instance_only", opts.instance_only || of_snapshot}}),
                            "migration control"));
    const std::string pool_snap =
        of_snapshot ? opts.snapshot : "migration " + (opts.id.empty() ? std::string("x") : opts.id.substr(0, 36));
    if (!of_snapshot) {
        Heartbeat hb(beat_period(), ch.send_keepalive);  // the target waits on fs meanwhile
        LXM_TRY_VOID(backups_.take_pool_snapshot(name, pool_snap));
    }
    // The instance's lock while the stream reads it (its temporary snapshot and the user
    // snapshots): a delete, rename or snapshot delete of the source waits for the end of the
    // stream instead of pulling trees from under it. (Taken after the pool snapshot, whose
    // freeze takes the lock itself.)
    std::optional<NameLocks::Guard> guard(instances_.lock(name));
    auto drop_snapshot = [&] {
        if (of_snapshot) return;  // the user's: it stays
        if (auto r = backups_.drop_pool_snapshot(name, pool_snap); !r)
            LXM_WARN("migration of {}: dropping its temporary snapshot: {}", name, r.error().message());
    };
    base::Defer drop(drop_snapshot);
    if (progress) progress({{"progress", "sending"}});
    auto t0 = std::chrono::steady_clock::now();
    uint64_t sent = 0;
    LXM_TRY(TarStream tar, TarStream::open_sink(
                               [&](const char* d, size_t n) -> Result<void> {
                                   sent += n;
                                   return ch.send_data(std::string_view(d, n));
                               },
                               store::Compression::zstd));
    LXM_TRY_VOID(base::wrap(backups_.write_instance_tar(name, pool_snap, snaps, tar), "migration stream"));
    LXM_TRY_VOID(base::wrap(tar.close(), "migration stream"));
    LXM_TRY_VOID(base::wrap(ch.send_data(""), "migration stream end"));
    // Everything was read from the snapshot: it goes now, before the target confirms, so a
    // client that deletes the source as soon as the target is done (lxc move) finds it gone.
    drop.cancel();
    drop_snapshot();
    guard.reset();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    LXM_INFO("migration of {}: sent {} snapshots, {} bytes of files as {} bytes in {:.2f} s", name, snaps.size(),
             tar.bytes_in(), sent, secs);
    LXM_TRY(json done, base::wrap(recv_answer(ch), "waiting for the target's confirmation"));
    if (!done.is_object() || !done.value("success", false))
        return base::make_error(std::errc::io_error,
                                "the target failed: " + (done.is_object() ? done.value("message", std::string("?")) : "?"));
    return {};
}

Result<void> Migration::receive(const MigrationReceiveOptions& opts, const MigrationChannels& ch,
                                const Progress& progress) {
    auto fail = [&](const base::Error& e) -> Result<void> {
        (void)ch.send_control(json{{"success", false}, {"message", e.message()}});
        return std::unexpected(e);
    };
    LXM_TRY_VOID(validate_instance_name(opts.name));
    if (auto r = check_target(opts.name, opts.refresh); !r) return fail(r.error());
    const bool existing = bool(instances_.get(opts.name));  // refresh of an instance we have
    std::string pool_name = opts.pool.empty() ? state_.pool_name() : opts.pool;
    json have = json::array();
    if (existing) {
        auto rec = state_.store().read([&](store::Transaction& tx) { return store::get_instance(tx, "default", opts.name); });
        if (!rec) return fail(rec.error());
        pool_name = rec->storage_pool;
        auto snaps = state_.store().read(
            [&](store::Transaction& tx) { return store::list_snapshots(tx, "default", opts.name); });
        if (!snaps) return fail(snaps.error());
        for (const auto& s : *snaps) have.push_back(s.name);
    }
    auto pool_r = state_.pool(pool_name);
    if (!pool_r) return fail(pool_r.error());
    store::PoolDriver* pool = *pool_r;
    LXM_TRY_VOID(ch.send_control(json{{"refresh", existing}, {"have", have}}));
    auto offer = recv_answer(ch);
    if (!offer) return fail(base::wrap(offer.error(), "migration control"));

    auto tmp = store::poolfs::make_temp_dir(pool->path(), "migrate");
    if (!tmp) return fail(tmp.error());
    base::Defer cleanup([&] {
        if (auto r = base::remove_tree(*tmp); !r) LXM_WARN("migration: cleanup {}: {}", *tmp, r.error().message());
    });
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail(base::errno_error("pipe").error());
    base::UniqueFd rd(p[0]), wr(p[1]);
    Result<store::UnpackReport> unpacked = base::make_error(std::errc::io_error, "not unpacked");
    std::thread unpacker([&] {
        store::UnpackOptions uo;
        uo.prefix = "backup";
        uo.same_owner = true;
        unpacked = store::unpack_tarball("/proc/self/fd/" + std::to_string(rd.get()), *tmp, uo);
        rd.reset();  // a writer still sending gets EPIPE
    });
    Result<void> stream_ok;
    uint64_t got = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (;;) {
        auto frame = ch.recv_data();
        if (!frame) {
            stream_ok = std::unexpected(base::wrap(frame.error(), "migration stream cut"));
            break;
        }
        if (!*frame) break;
        got += (*frame)->size();
        if (wr && !base::write_all(wr.get(), **frame)) wr.reset();  // the unpacker stopped: its result tells why
    }
    wr.reset();
    unpacker.join();
    if (!stream_ok) return fail(stream_ok.error());
    if (!unpacked)
        return fail(base::wrap(unpacked.error(), "the migration stream is truncated or corrupt (nothing was created)"));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    LXM_INFO("migration into {}: received {} bytes in {:.2f} s ({} entries)", opts.name, got, secs, unpacked->entries);
    if (progress) progress({{"progress", "creating"}});
    Result<std::string> made = [&]() -> Result<std::string> {
        Heartbeat hb(beat_period(), ch.send_keepalive);  // the source waits on control meanwhile
        if (existing) {
            LXM_TRY_VOID(refresh_existing(opts.name, *tmp, *offer, progress));
            return Result<std::string>(opts.name);
        }
        return backups_.import_unpacked(*tmp, opts.name, pool_name, progress, receive_adjust(opts));
    }();
    if (!made) return fail(made.error());
    if (auto r = ch.send_control(json{{"success", true}}); !r) {
        // The source cannot learn that the copy exists, so it keeps its instance (a move does not
        // delete it): a new copy here goes again rather than leave two of them.
        if (!existing)
            if (auto d = instances_.remove(opts.name); !d)
                LXM_WARN("migration into {}: removing the unconfirmed copy: {}", opts.name, d.error().message());
        return std::unexpected(base::wrap(r.error(), "confirming to the source"));
    }
    return {};
}

}  // namespace lxm::core
