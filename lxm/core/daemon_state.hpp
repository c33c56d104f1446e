// DaemonState: what lxmd owns on disk, opened once at startup.
//
//   $LXM_DIR (default /var/lib/lxm), mode 0711
//     unix.socket                    the API socket
//     database/lxm.db                SqliteStore
//     storage-pools/default/         the default pool (overlay driver); other pools
//                                    here too unless created with a source dir
//     containers/<name>/             run dir of a running instance (0711: the
//                                    container root walks through it): spec.json,
//                                    monitor.sock, monitor.pid, exit-code
//     logs/<name>/                   console.log, monitor.log
//
// Host id ranges for unprivileged instances come from a pool set by server
// config keys (lxm.idmap.base, default 1000000; lxm.idmap.ranges, default 1000
// ranges of 65536 ids); each instance's range is stored in its row.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "store/config_maps.hpp"
#include "store/pool_driver.hpp"
#include "store/store.hpp"

namespace lxm::core {

std::string default_state_dir();  // $LXM_DIR or /var/lib/lxm

struct StatePaths {
    std::string root;
    std::string socket() const { return root + "/unix.socket"; }
    std::string database() const { return root + "/database/lxm.db"; }
    // A pool's directory when it has no source of its own.
    std::string pool(const std::string& name = "default") const { return root + "/storage-pools/" + name; }
    std::string run_dir(const std::string& instance) const { return root + "/containers/" + instance; }
    std::string log_dir(const std::string& instance) const { return root + "/logs/" + instance; }
    std::string spec_file(const std::string& instance) const { return run_dir(instance) + "/spec.json"; }
    std::string monitor_socket(const std::string& instance) const { return run_dir(instance) + "/monitor.sock"; }
};

inline constexpr std::string_view kIdmapBaseKey = "lxm.idmap.base";
inline constexpr std::string_view kIdmapRangesKey = "lxm.idmap.ranges";

struct IdPool {
    int64_t base = 1000000;
    int64_t ranges = 1000;
    int64_t size = 65536;
    int64_t limit() const { return base + ranges * size; }
};
// The pool from the server config (defaults for missing keys; bad values are errors).
base::Result<IdPool> id_pool_from_config(const store::ConfigMap& server_config);

class DaemonState {
public:
    // Create the layout (modes as above), open the database and the default pool.
    // monitor_bin: path of lxm-monitor.
    static base::Result<std::unique_ptr<DaemonState>> open(const std::string& root, std::string monitor_bin);

    const StatePaths& paths() const { return paths_; }
    store::Store& store() { return *store_; }
    const std::string& monitor_bin() const { return monitor_bin_; }

    // ---- storage pools (rows in store/storage; drivers opened at startup) ----
    // The default pool ("default", overlay driver, always there).
    store::PoolDriver& pool() { return *default_pool_; }
    const std::string& pool_name() const { return pool_name_; }
    // An opened pool by name (ENOENT when there is none). Drivers stay alive
    // until remove_pool, which core calls only for pools without instances.
    base::Result<store::PoolDriver*> pool(const std::string& name);
    std::vector<std::string> pool_names();
    void add_pool(const std::string& name, std::unique_ptr<store::PoolDriver> driver);
    std::unique_ptr<store::PoolDriver> remove_pool(const std::string& name);

    // The id pool as configured now (read from the database).
    base::Result<IdPool> id_pool();

private:
    StatePaths paths_;
    std::string monitor_bin_;
    std::string pool_name_ = "default";
    std::unique_ptr<store::Store> store_;
    store::PoolDriver* default_pool_ = nullptr;
    std::mutex pools_mu_;
    std::map<std::string, std::unique_ptr<store::PoolDriver>> pools_;
};

}  // namespace lxm::core
