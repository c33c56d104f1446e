#include "store/pool_overlay.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "store/pool_fs.hpp"

namespace lxm::store {

using base::Result;

namespace {

constexpr const char* kComplete = ".complete";

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d) return out;
    while (struct dirent* de = ::readdir(d)) {
        if (de->d_name[0] == '.') continue;
        out.emplace_back(de->d_name);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::pair<uid_t, gid_t>> read_ids(const std::string& dir) {
    LXM_TRY(std::string v, poolfs::read_value(dir + "/ids"));
    unsigned long u = 0, g = 0;
    if (std::sscanf(v.c_str(), "%lu %lu", &u, &g) != 2)
        return base::make_error(std::errc::invalid_argument, "bad ids file in " + dir);
    return std::pair{static_cast<uid_t>(u), static_cast<gid_t>(g)};
}

Result<void> write_layer_meta(const std::string& dir, const std::string& image, uid_t uid, gid_t gid) {
    LXM_TRY_VOID(poolfs::write_value(dir + "/image", image));
    LXM_TRY_VOID(poolfs::write_value(dir + "/ids", std::to_string(uid) + " " + std::to_string(gid)));
    return {};
}

// The same result as runtime::prepare_overlay_dirs (which the runtime runs
// again at every start): upper owned by (uid, gid) with the lower root's mode,
// work 0700 owned by root.
Result<void> make_layers(const std::string& lower, const std::string& dir, uid_t uid, gid_t gid) {
    struct stat st;
    if (::stat(lower.c_str(), &st) != 0) return base::errno_error("stat " + lower);
    std::string upper = dir + "/upper", work = dir + "/work";
    if (::mkdir(upper.c_str(), 0755) != 0) return base::errno_error("mkdir " + upper);
    if (::chown(upper.c_str(), uid, gid) != 0) return base::errno_error("chown " + upper);
    if (::chmod(upper.c_str(), st.st_mode & 07777) != 0) return base::errno_error("chmod " + upper);
    if (::mkdir(work.c_str(), 0700) != 0) return base::errno_error("mkdir " + work);
    return {};
}

class OverlayPool final : public PoolDriver {
public:
    explicit OverlayPool(std::string path) : path_(std::move(path)) {}

    std::string driver_name() const override { return "overlay"; }
    const std::string& path() const override { return path_; }

    // ---- images ----
    std::string image_dir(const std::string& fp) const { return path_ + "/images/" + fp; }

    bool has_image(const std::string& fp) const override {
        return poolfs::check_name("image", fp) && base::path_exists(image_dir(fp) + "/" + kComplete);
    }

    Result<void> ensure_image(const std::string& fp,
                              const std::function<Result<void>(const std::string& dir)>& unpack) override {
        LXM_TRY_VOID(poolfs::check_name("image", fp));
        // One unpack per fingerprint at a time; others wait for it.
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [&] { return !unpacking_.contains(fp); });
            if (has_image(fp)) return {};
            unpacking_.insert(fp);
        }
        base::Defer done([&] {
            std::lock_guard lk(mu_);
            unpacking_.erase(fp);
            cv_.notify_all();
        });
        std::string final_dir = image_dir(fp);
        // A directory without the marker is not an image (cannot normally happen: rename is last).
        if (base::path_exists(final_dir)) LXM_TRY_VOID(poolfs::discard(path_, final_dir));
        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "image"));
        base::Reverter rev;
        rev.add([&] { (void)base::remove_tree(tmp); });
        std::string rootfs = tmp + "/rootfs";
        if (::mkdir(rootfs.c_str(), 0755) != 0) return base::errno_error("mkdir " + rootfs);
        LXM_TRY_VOID(base::wrap(unpack(rootfs), "unpack image " + fp));
        LXM_TRY_VOID(poolfs::write_value(tmp + "/" + kComplete, fp));
        LXM_TRY_VOID(poolfs::rename_noreplace(tmp, final_dir));
        rev.success();
        return {};
    }

    Result<void> delete_image(const std::string& fp) override {
        LXM_TRY_VOID(poolfs::check_name("image", fp));
        if (!base::path_exists(image_dir(fp))) return {};
        // Never pull the lower layer from under an instance or snapshot.
        for (const auto& inst : list_dir(path_ + "/containers")) {
            std::string d = instance_dir(inst);
            if (auto v = poolfs::read_value(d + "/image"); v && *v == fp)
                return base::make_error(std::errc::device_or_resource_busy, "image " + fp + " is used by " + inst);
            for (const auto& snap : list_dir(d + "/snapshots"))
                if (auto v = poolfs::read_value(d + "/snapshots/" + snap + "/image"); v && *v == fp)
                    return base::make_error(std::errc::device_or_resource_busy,
                                            "image " + fp + " is used by " + inst + "/" + snap);
        }
        return poolfs::discard(path_, image_dir(fp));
    }

    Result<std::string> image_rootfs(const std::string& fp) const override {
        if (!has_image(fp)) return base::make_error(std::errc::no_such_file_or_directory, "image " + fp + " not in pool");
        return image_dir(fp) + "/rootfs";
    }

    // ---- instances ----
    std::string instance_dir(const std::string& name) const override { return path_ + "/containers/" + name; }
    std::string snapshot_dir(const std::string& name, const std::string& snap) const {
        return instance_dir(name) + "/snapshots/" + snap;
    }

    bool has_instance(const std::string& name) const override {
        return poolfs::check_name("instance", name) && base::path_exists(instance_dir(name) + "/upper");
    }

    Result<InstanceRootfs> create_instance(const std::string& name, const std::string& image_fp, uid_t uid,
                                           gid_t gid) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY(std::string lower, image_rootfs(image_fp));
        return build_instance(name, image_fp, lower, uid, gid);
    }

    Result<InstanceRootfs> create_empty_instance(const std::string& name, uid_t uid, gid_t gid) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        return build_instance(name, "", {}, uid, gid);
    }

    Result<InstanceRootfs> instance_rootfs(const std::string& name) const override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        if (!has_instance(name)) return not_found(name);
        return layer_rootfs(instance_dir(name));
    }

    Result<InstanceRootfs> snapshot_rootfs(const std::string& name, const std::string& snap) const override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY_VOID(poolfs::check_name("snapshot", snap));
        std::string d = snapshot_dir(name, snap);
        if (!base::path_exists(d + "/upper")) return not_found(name + "/" + snap);
        LXM_TRY(InstanceRootfs r, layer_rootfs(d));
        r.work_dir.clear();  // a snapshot is never mounted writable
        return r;
    }

    Result<void> delete_instance(const std::string& name) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        if (!base::path_exists(instance_dir(name))) return {};
        return poolfs::discard(path_, instance_dir(name));
    }

    Result<void> rename_instance(const std::string& from, const std::string& to) override {
        LXM_TRY_VOID(poolfs::check_name("instance", from));
        LXM_TRY_VOID(poolfs::check_name("instance", to));
        if (!has_instance(from)) return not_found(from);
        // Snapshots live inside the instance dir: one rename moves everything.
        return poolfs::rename_noreplace(instance_dir(from), instance_dir(to));
    }

    Result<InstanceRootfs> copy_instance(const std::string& from, const std::optional<std::string>& snapshot,
                                         const std::string& to, uid_t uid, gid_t gid) override {
        LXM_TRY_VOID(poolfs::check_name("instance", from));
        LXM_TRY_VOID(poolfs::check_name("instance", to));
        std::string src = instance_dir(from);
        if (snapshot) {
            LXM_TRY_VOID(poolfs::check_name("snapshot", *snapshot));
            src = snapshot_dir(from, *snapshot);
        }
        if (!base::path_exists(src + "/upper")) return not_found(snapshot ? from + "/" + *snapshot : from);
        if (base::path_exists(instance_dir(to)))
            return base::make_error(std::errc::file_exists, "instance " + to + " already exists in the pool");
        LXM_TRY(std::string image, poolfs::read_value(src + "/image"));
        LXM_TRY(auto ids, read_ids(src));

        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "copy"));
        base::Reverter rev;
        rev.add([&] { (void)base::remove_tree(tmp); });
        LXM_TRY_VOID(poolfs::copy_tree(src + "/upper", tmp + "/upper"));
        LXM_TRY_VOID(poolfs::shift_tree(tmp + "/upper", ids.first, ids.second, uid, gid));
        if (::mkdir((tmp + "/work").c_str(), 0700) != 0) return base::errno_error("mkdir " + tmp + "/work");
        if (image.empty() && ::mkdir((tmp + "/lower").c_str(), 0755) != 0)
            return base::errno_error("mkdir " + tmp + "/lower");
        LXM_TRY_VOID(write_layer_meta(tmp, image, uid, gid));
        LXM_TRY_VOID(poolfs::rename_noreplace(tmp, instance_dir(to)));
        rev.success();
        return layer_rootfs(instance_dir(to));
    }

    // ---- snapshots ----
    Result<void> create_snapshot(const std::string& name, const std::string& snap) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY_VOID(poolfs::check_name("snapshot", snap));
        if (!has_instance(name)) return not_found(name);
        std::string d = instance_dir(name);
        std::string target = snapshot_dir(name, snap);
        if (base::path_exists(target))
            return base::make_error(std::errc::file_exists, "snapshot " + name + "/" + snap + " already exists");
        LXM_TRY(std::string image, poolfs::read_value(d + "/image"));
        LXM_TRY(auto ids, read_ids(d));
        if (::mkdir((d + "/snapshots").c_str(), 0700) != 0 && errno != EEXIST)
            return base::errno_error("mkdir " + d + "/snapshots");

        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "snap"));
        base::Reverter rev;
        rev.add([&] { (void)base::remove_tree(tmp); });
        LXM_TRY_VOID(poolfs::copy_tree(d + "/upper", tmp + "/upper"));
        LXM_TRY_VOID(write_layer_meta(tmp, image, ids.first, ids.second));
        LXM_TRY_VOID(poolfs::rename_noreplace(tmp, target));
        rev.success();
        return {};
    }

    Result<void> restore_snapshot(const std::string& name, const std::string& snap) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY_VOID(poolfs::check_name("snapshot", snap));
        if (!has_instance(name)) return not_found(name);
        std::string d = instance_dir(name);
        std::string s = snapshot_dir(name, snap);
        if (!base::path_exists(s + "/upper")) return not_found(name + "/" + snap);
        LXM_TRY(std::string snap_image, poolfs::read_value(s + "/image"));
        LXM_TRY(std::string cur_image, poolfs::read_value(d + "/image"));
        if (snap_image != cur_image)
            return base::make_error(std::errc::invalid_argument,
                                    "snapshot " + snap + " is over image " + snap_image + ", the instance over " + cur_image);
        LXM_TRY(auto snap_ids, read_ids(s));
        LXM_TRY(auto cur_ids, read_ids(d));

        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "restore"));
        base::Reverter rev;
        rev.add([&] { (void)base::remove_tree(tmp); });
        std::string fresh = tmp + "/upper";
        LXM_TRY_VOID(poolfs::copy_tree(s + "/upper", fresh));
        LXM_TRY_VOID(poolfs::shift_tree(fresh, snap_ids.first, snap_ids.second, cur_ids.first, cur_ids.second));
        // The swap is the commit point: before it the instance is untouched, after
        // it the old upper sits in tmp/ (removed now or at the next open).
        LXM_TRY_VOID(poolfs::rename_exchange(fresh, d + "/upper"));
        rev.success();
        (void)base::remove_tree(tmp);
        // Stale overlay work files of the old upper must not meet the new one.
        std::string work = d + "/work";
        if (auto r = poolfs::discard(path_, work); !r) return r;
        if (::mkdir(work.c_str(), 0700) != 0) return base::errno_error("mkdir " + work);
        return {};
    }

    Result<void> delete_snapshot(const std::string& name, const std::string& snap) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY_VOID(poolfs::check_name("snapshot", snap));
        std::string s = snapshot_dir(name, snap);
        if (!base::path_exists(s)) return {};
        return poolfs::discard(path_, s);
    }

    Result<void> rename_snapshot(const std::string& name, const std::string& from, const std::string& to) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY_VOID(poolfs::check_name("snapshot", from));
        LXM_TRY_VOID(poolfs::check_name("snapshot", to));
        if (!base::path_exists(snapshot_dir(name, from))) return not_found(name + "/" + from);
        return poolfs::rename_noreplace(snapshot_dir(name, from), snapshot_dir(name, to));
    }

    std::vector<std::string> list_snapshots(const std::string& name) const override {
        if (!poolfs::check_name("instance", name)) return {};
        return list_dir(instance_dir(name) + "/snapshots");
    }

    Result<void> copy_snapshot(const std::string& from, const std::string& snap, const std::string& to,
                               const std::string& to_snap, uid_t uid, gid_t gid) override {
        LXM_TRY_VOID(poolfs::check_name("instance", from));
        LXM_TRY_VOID(poolfs::check_name("snapshot", snap));
        LXM_TRY_VOID(poolfs::check_name("instance", to));
        LXM_TRY_VOID(poolfs::check_name("snapshot", to_snap));
        std::string src = snapshot_dir(from, snap);
        if (!base::path_exists(src + "/upper")) return not_found(from + "/" + snap);
        if (!has_instance(to)) return not_found(to);
        std::string target = snapshot_dir(to, to_snap);
        if (base::path_exists(target))
            return base::make_error(std::errc::file_exists, "snapshot " + to + "/" + to_snap + " already exists");
        std::string d = instance_dir(to);
        if (::mkdir((d + "/snapshots").c_str(), 0700) != 0 && errno != EEXIST)
            return base::errno_error("mkdir " + d + "/snapshots");
        LXM_TRY(std::string image, poolfs::read_value(src + "/image"));
        LXM_TRY(auto ids, read_ids(src));
        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "snap"));
        base::Reverter rev;
        rev.add([&] { (void)base::remove_tree(tmp); });
        LXM_TRY_VOID(poolfs::copy_tree(src + "/upper", tmp + "/upper"));
        LXM_TRY_VOID(poolfs::shift_tree(tmp + "/upper", ids.first, ids.second, uid, gid));
        LXM_TRY_VOID(write_layer_meta(tmp, image, uid, gid));
        LXM_TRY_VOID(poolfs::rename_noreplace(tmp, target));
        rev.success();
        return {};
    }

    Result<PoolUsage> usage() const override { return poolfs::fs_usage(path_); }

    Result<uint64_t> instance_usage(const std::string& name) const override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        if (!has_instance(name)) return not_found(name);
        return poolfs::tree_usage(instance_dir(name) + "/upper");
    }

private:
    static base::Unexpected not_found(const std::string& what) {
        return base::make_error(std::errc::no_such_file_or_directory, "instance " + what + " not in pool");
    }

    Result<InstanceRootfs> layer_rootfs(const std::string& dir) const {
        LXM_TRY(std::string image, poolfs::read_value(dir + "/image"));
        InstanceRootfs r;
        if (image.empty()) {
            r.rootfs = dir + "/lower";
        } else {
            LXM_TRY(r.rootfs, image_rootfs(image));
        }
        r.upper_dir = dir + "/upper";
        r.work_dir = dir + "/work";
        return r;
    }

    Result<InstanceRootfs> build_instance(const std::string& name, const std::string& image, std::string lower,
                                          uid_t uid, gid_t gid) {
        std::string final_dir = instance_dir(name);
        if (base::path_exists(final_dir))
            return base::make_error(std::errc::file_exists, "instance " + name + " already exists in the pool");
        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "create"));
        base::Reverter rev;
        rev.add([&] { (void)base::remove_tree(tmp); });
        if (image.empty()) {
            lower = tmp + "/lower";
            if (::mkdir(lower.c_str(), 0755) != 0) return base::errno_error("mkdir " + lower);
        }
        LXM_TRY_VOID(make_layers(lower, tmp, uid, gid));
        LXM_TRY_VOID(write_layer_meta(tmp, image, uid, gid));
        LXM_TRY_VOID(poolfs::rename_noreplace(tmp, final_dir));
        rev.success();
        return layer_rootfs(final_dir);
    }

    std::string path_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::set<std::string> unpacking_;
};

}  // namespace

std::unique_ptr<PoolDriver> make_overlay_pool(const std::string& path) { return std::make_unique<OverlayPool>(path); }

}  // namespace lxm::store
