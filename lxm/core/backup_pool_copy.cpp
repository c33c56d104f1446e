// Backups::copy_between_pools: an instance copied into another storage pool, whatever the
// two drivers are, through the backup layout: one thread writes the source's tarball
// (uncompressed) into a pipe, this one unpacks it under the target pool's tmp/ (the
// hostile-tarball-safe unpacker, owners as the container sees them), then
// import_unpacked makes the instance with create_from_trees (row committed last). A
// failure on either side fails both and leaves nothing (tmp/ removed; a kill: tmp/ is
// emptied when the pool opens, the temporary source snapshot is an internal one).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/backups.hpp"
#include "store/archive_unpack.hpp"
#include "store/pool_fs.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;

namespace {

// As a copy within a pool: the source's keys but its volatile state (the base image stays).
bool kept_when_copying(const std::string& key) { return !key.starts_with("volatile.") || key == "volatile.base_image"; }

}  // namespace

Result<void> Backups::copy_between_pools(const apitypes::InstancesPost& req, const std::string& target_pool,
                                         const Progress& progress) {
    const std::string& src = req.source.source;
    auto slash = src.find('/');
    const std::string from = src.substr(0, slash);
    const std::string snap = slash == std::string::npos ? std::string() : src.substr(slash + 1);
    LXM_TRY(apitypes::Instance source, instances_.get(from));
    ConfigMap src_config = source.config;
    DeviceMap src_devices = source.devices;
    if (!snap.empty()) {
        LXM_TRY(apitypes::InstanceSnapshot s, instances_.snapshot(from, snap));
        src_config = s.config;
        src_devices = s.devices;
    }
    std::vector<std::string> snaps;
    if (snap.empty() && !req.source.instance_only && !req.source.container_only) {
        LXM_TRY(auto all, instances_.snapshots(from));
        for (const auto& s : all) snaps.push_back(s.name.substr(s.name.rfind('/') + 1));
    }
    LXM_TRY(store::PoolDriver * pool, state_.pool(target_pool));

    // The root to send: the snapshot asked for, or a temporary pool snapshot of the instance.
    std::string root_snap = snap;
    bool temporary = false;
    if (root_snap.empty()) {
        root_snap = "copy " + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
        LXM_TRY_VOID(take_pool_snapshot(from, root_snap));
        temporary = true;
    }
    base::Defer drop([&] {
        if (!temporary) return;
        if (auto r = drop_pool_snapshot(from, root_snap); !r)
            LXM_WARN("copy of {}: dropping its temporary snapshot: {}", from, r.error().message());
    });

    LXM_TRY(std::string tmp, store::poolfs::make_temp_dir(pool->path(), "copy"));
    base::Defer cleanup([&] {
        if (auto r = base::remove_tree(tmp); !r) LXM_WARN("copy: cleanup {}: {}", tmp, r.error().message());
    });
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return base::errno_error("pipe");
    base::UniqueFd rd(p[0]), wr(p[1]);
    if (progress) progress({{"progress", "copying into pool " + target_pool}});
    Result<void> written;
    std::thread writer([&] {
        written = [&]() -> Result<void> {
            LXM_TRY(TarStream tar, TarStream::open_fd(wr.get(), store::Compression::none));
            LXM_TRY_VOID(write_instance_tar(from, root_snap, snaps, tar));
            return tar.close();
        }();
        wr.reset();  // the reader sees the end (or a truncated archive after a failure)
    });
    store::UnpackOptions uo;
    uo.prefix = "backup";
    uo.same_owner = true;
    auto unpacked = store::unpack_tarball("/proc/self/fd/" + std::to_string(rd.get()), tmp, uo);
    rd.reset();  // a writer still writing gets EPIPE
    writer.join();
    // The side that failed first: a stopped unpacker leaves the writer a closed pipe, a
    // failed writer leaves the unpacker a truncated archive.
    if (!written && written.error().code != std::errc::broken_pipe)
        return std::unexpected(base::wrap(written.error(), "copy " + src + ": reading the source"));
    if (!unpacked) return std::unexpected(base::wrap(unpacked.error(), "copy " + src + ": writing into " + target_pool));
    if (!written) return std::unexpected(base::wrap(written.error(), "copy " + src + ": reading the source"));

    // What the copy gets: the request's keys over the source's (as Instances::create does).
    auto adjust = [&](Instances::TreeImport& spec) {
        auto& rec = spec.rec;
        rec.config.clear();
        for (const auto& [k, v] : req.config)
            if (!k.starts_with("volatile.")) rec.config.emplace(k, v);
        for (const auto& [k, v] : src_config)
            if (kept_when_copying(k)) rec.config.emplace(k, v);
        rec.devices = req.devices;
        for (const auto& [k, v] : src_devices) rec.devices.emplace(k, v);
        rec.profiles = req.profiles.value_or(source.profiles);
        rec.description = req.description.empty() ? source.description : req.description;
        rec.ephemeral = req.ephemeral;
        rec.created_at = 0;  // now
        spec.trigger = "copy";
    };
    LXM_TRY(std::string made, import_unpacked(tmp, req.name, target_pool, progress, adjust));
    LXM_INFO("instance {} copied from {} into pool {} ({} snapshots)", made, src, target_pool, snaps.size());
    return {};
}

}  // namespace lxm::core
