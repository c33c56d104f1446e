#include "lxm/core/daemon_state.hpp"

#include <sys/stat.h>

#include <charconv>
#include <cstdlib>

#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "store/server_config.hpp"
#include "store/storage.hpp"

namespace lxm::core {

std::string default_state_dir() {
    const char* e = std::getenv("LXM_DIR");
    if (e && *e) return e;
    return "/var/lib/lxm";
}

namespace {
base::Result<int64_t> config_int(const store::ConfigMap& c, std::string_view key, int64_t def, int64_t min,
                                 int64_t max) {
    auto it = c.find(std::string(key));
    if (it == c.end()) return def;
    int64_t v = 0;
    const auto& s = it->second;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max)
        return base::make_error(std::errc::invalid_argument, "server config " + std::string(key) + "=\"" + s +
                                                                 "\": expected a number in [" + std::to_string(min) +
                                                                 ", " + std::to_string(max) + "]");
    return v;
}

base::Result<void> ensure_dir(const std::string& path, mode_t mode) {
    LXM_TRY_VOID(base::mkdir_p(path, mode));
    if (::chmod(path.c_str(), mode) != 0) return base::errno_error("chmod " + path);
    return {};
}
}  // namespace

base::Result<IdPool> id_pool_from_config(const store::ConfigMap& c) {
    IdPool p;
    LXM_TRY(p.base, config_int(c, kIdmapBaseKey, p.base, 1, (int64_t{1} << 32) - 1));
    LXM_TRY(p.ranges, config_int(c, kIdmapRangesKey, p.ranges, 1, 65535));
    if (p.limit() > (int64_t{1} << 32) - 1)
        return base::make_error(std::errc::invalid_argument,
                                "server config: the id pool (lxm.idmap.base + lxm.idmap.ranges * 65536) exceeds 2^32-1");
    return p;
}

base::Result<std::unique_ptr<DaemonState>> DaemonState::open(const std::string& root, std::string monitor_bin) {
    auto st = std::unique_ptr<DaemonState>(new DaemonState());
    st->paths_.root = root;
    st->monitor_bin_ = std::move(monitor_bin);
    LXM_TRY_VOID(ensure_dir(root, 0711));
    LXM_TRY_VOID(ensure_dir(root + "/database", 0700));
    LXM_TRY_VOID(ensure_dir(root + "/storage-pools", 0711));
    LXM_TRY_VOID(ensure_dir(root + "/containers", 0711));
    LXM_TRY_VOID(ensure_dir(root + "/logs", 0700));

    LXM_TRY(st->store_, base::wrap(store::open_store(st->paths_.database()), "open database"));
    LXM_TRY(auto def, base::wrap(store::open_pool("overlay", st->paths_.pool()), "open storage pool"));
    st->default_pool_ = def.get();
    st->pools_.emplace(st->pool_name_, std::move(def));

    // Record the default pool in the database (once).
    LXM_TRY_VOID(st->store_->transaction([&](store::Transaction& tx) -> base::Result<void> {
        auto p = store::get_storage_pool(tx, st->pool_name_);
        if (p) return {};
        if (p.error().code != std::errc::no_such_file_or_directory) return std::unexpected(p.error());
        store::StoragePoolRecord rec;
        rec.name = st->pool_name_;
        rec.driver = "overlay";
        rec.description = "Default pool";
        rec.status = "created";
        rec.config["source"] = st->paths_.pool();
        LXM_TRY_VOID(store::create_storage_pool(tx, rec));
        return {};
    }));
    // The other pools: a pool that does not open (its filesystem gone) is logged
    // and left out; its row stays, so it comes back when the source does.
    LXM_TRY(auto recs, st->store_->read([](store::Transaction& tx) { return store::list_storage_pools(tx); }));
    for (const auto& rec : recs) {
        if (rec.name == st->pool_name_ || rec.status != "created") continue;
        auto src = rec.config.find("source");
        std::string path = src != rec.config.end() && !src->second.empty() ? src->second : st->paths_.pool(rec.name);
        auto d = store::open_pool(rec.driver, path, rec.config);
        if (!d) {
            LXM_ERROR("storage pool {} ({} at {}): {}", rec.name, rec.driver, path, d.error().message());
            continue;
        }
        st->pools_.emplace(rec.name, std::move(*d));
    }
    return st;
}

base::Result<store::PoolDriver*> DaemonState::pool(const std::string& name) {
    std::lock_guard g(pools_mu_);
    auto it = pools_.find(name);
    if (it == pools_.end())
        return base::make_error(std::errc::no_such_file_or_directory, "storage pool \"" + name + "\" is not available");
    return it->second.get();
}

std::vector<std::string> DaemonState::pool_names() {
    std::lock_guard g(pools_mu_);
    std::vector<std::string> out;
    for (const auto& [n, p] : pools_) out.push_back(n);
    return out;
}

void DaemonState::add_pool(const std::string& name, std::unique_ptr<store::PoolDriver> driver) {
    std::lock_guard g(pools_mu_);
    pools_[name] = std::move(driver);
}

std::unique_ptr<store::PoolDriver> DaemonState::remove_pool(const std::string& name) {
    std::lock_guard g(pools_mu_);
    auto it = pools_.find(name);
    if (it == pools_.end() || name == pool_name_) return nullptr;
    auto p = std::move(it->second);
    pools_.erase(it);
    return p;
}

base::Result<IdPool> DaemonState::id_pool() {
    LXM_TRY(store::ConfigMap c, store_->read([](store::Transaction& tx) { return store::get_server_config(tx); }));
    return id_pool_from_config(c);
}

}  // namespace lxm::core
