#include "store/pool_driver.hpp"

#include <sys/stat.h>

#include "lxm/base/file.hpp"
#include "store/pool_fs.hpp"
#include "store/pool_overlay.hpp"
#include "store/pool_tree.hpp"

namespace lxm::store {

using base::Result;

Result<std::unique_ptr<PoolDriver>> open_pool(const std::string& driver, const std::string& path,
                                              const std::map<std::string, std::string>& config) {
    (void)config;
    if (path.empty() || path.front() != '/')
        return base::make_error(std::errc::invalid_argument, "pool path must be absolute: \"" + path + "\"");
    if (driver != "overlay" && driver != "dir" && driver != "btrfs")
        return base::make_error(std::errc::not_supported, "unknown storage driver \"" + driver + "\"");
    // o+x on the way down: container roots walk into their own trees.
    LXM_TRY_VOID(base::mkdir_p(path, 0711));
    std::unique_ptr<TreeBackend> backend;
    if (driver == "btrfs") {
        LXM_TRY(backend, make_btrfs_backend(path));
    } else if (driver == "dir") {
        backend = make_dir_backend();
    }
    for (const char* sub : {"images", "containers", "tmp"}) {
        std::string d = path + "/" + sub;
        if (::mkdir(d.c_str(), 0711) != 0 && errno != EEXIST) return base::errno_error("mkdir " + d);
    }
    if (backend) return make_tree_pool(path, std::move(backend));
    LXM_TRY_VOID(base::wrap(poolfs::clean_temp(path), "clean pool tmp"));
    return make_overlay_pool(path);
}

}  // namespace lxm::store
