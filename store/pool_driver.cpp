#include "store/pool_driver.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "lxm/base/file.hpp"
#include "store/pool_fs.hpp"
#include "store/pool_overlay.hpp"
#include "store/pool_quota.hpp"
#include "store/pool_tree.hpp"

namespace lxm::store {

using base::Result;

std::vector<std::string> PoolDriver::list_images() const {
    std::vector<std::string> out;
    std::string dir = path() + "/images";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (struct dirent* de = ::readdir(d)) {
        std::string n = de->d_name;
        if (n.empty() || n[0] == '.') continue;
        if (has_image(n)) out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Result<void> PoolDriver::check_quota() const { return quota::project_quota_supported(path()); }

Result<void> PoolDriver::set_instance_quota(const std::string& name, std::optional<uint64_t> bytes) {
    LXM_TRY(InstanceRootfs r, instance_rootfs(name));
    // The instance's own writable tree: the overlay upper, or the whole tree.
    return quota::set_project_quota(r.upper_dir.empty() ? r.rootfs : r.upper_dir, bytes);
}

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
