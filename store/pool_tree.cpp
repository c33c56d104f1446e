#include "store/pool_tree.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "store/pool_fs.hpp"
#include "store/pool_quota.hpp"

namespace lxm::store {

using base::Result;

namespace {

constexpr const char* kComplete = ".complete";

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (!d) return out;
    while (struct dirent* de = ::readdir(d))
        if (de->d_name[0] != '.') out.emplace_back(de->d_name);
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Result<void> write_meta(const std::string& dir, const std::string& image, uid_t uid, gid_t gid) {
    LXM_TRY_VOID(poolfs::write_value(dir + "/image", image));
    return poolfs::write_value(dir + "/ids", std::to_string(uid) + " " + std::to_string(gid));
}

class TreePool final : public PoolDriver {
public:
    TreePool(std::string path, std::unique_ptr<TreeBackend> backend) : path_(std::move(path)), be_(std::move(backend)) {
        remover_ = [this](const std::string& p) { return be_->remove(p); };
    }

    std::string driver_name() const override { return be_->name(); }
    const std::string& path() const override { return path_; }

    std::string image_dir(const std::string& fp) const { return path_ + "/images/" + fp; }
    std::string instance_dir(const std::string& name) const override { return path_ + "/containers/" + name; }
    std::string snapshot_dir(const std::string& name, const std::string& snap) const {
        return instance_dir(name) + "/snapshots/" + snap;
    }

    bool has_image(const std::string& fp) const override {
        return poolfs::check_name("image", fp) && base::path_exists(image_dir(fp) + "/" + kComplete);
    }

    Result<void> ensure_image(const std::string& fp,
                              const std::function<Result<void>(const std::string& dir)>& unpack) override {
        LXM_TRY_VOID(poolfs::check_name("image", fp));
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
        if (base::path_exists(image_dir(fp))) LXM_TRY_VOID(poolfs::discard(path_, image_dir(fp), remover_));
        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "image"));
        base::Reverter rev;
        rev.add([&] { (void)be_->remove(tmp); });
        LXM_TRY_VOID(be_->make_empty(tmp + "/rootfs"));
        LXM_TRY_VOID(base::wrap(unpack(tmp + "/rootfs"), "unpack image " + fp));
        LXM_TRY_VOID(poolfs::write_value(tmp + "/" + kComplete, fp));
        LXM_TRY_VOID(poolfs::rename_noreplace(tmp, image_dir(fp)));
        rev.success();
        return {};
    }

    Result<void> delete_image(const std::string& fp) override {
        LXM_TRY_VOID(poolfs::check_name("image", fp));
        if (!base::path_exists(image_dir(fp))) return {};
        return poolfs::discard(path_, image_dir(fp), remover_);
    }

    Result<std::string> image_rootfs(const std::string& fp) const override {
        if (!has_image(fp)) return base::make_error(std::errc::no_such_file_or_directory, "image " + fp + " not in pool");
        return image_dir(fp) + "/rootfs";
    }

    bool has_instance(const std::string& name) const override {
        return poolfs::check_name("instance", name) && base::path_exists(instance_dir(name) + "/rootfs");
    }

    Result<InstanceRootfs> create_instance(const std::string& name, const std::string& fp, uid_t uid, gid_t gid) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY(std::string src, image_rootfs(fp));
        return build(name, [&](const std::string& dst) { return be_->clone(src, dst, false); }, fp, uid, gid);
    }

    Result<InstanceRootfs> create_empty_instance(const std::string& name, uid_t uid, gid_t gid) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        return build(name, [&](const std::string& dst) { return be_->make_empty(dst); }, "", uid, gid);
    }

    Result<InstanceRootfs> instance_rootfs(const std::string& name) const override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        if (!has_instance(name)) return not_found(name);
        return InstanceRootfs{.rootfs = instance_dir(name) + "/rootfs", .upper_dir = {}, .work_dir = {}};
    }

    Result<InstanceRootfs> snapshot_rootfs(const std::string& name, const std::string& snap) const override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY_VOID(poolfs::check_name("snapshot", snap));
        std::string d = snapshot_dir(name, snap) + "/rootfs";
        if (!base::path_exists(d)) return not_found(name + "/" + snap);
        return InstanceRootfs{.rootfs = d, .upper_dir = {}, .work_dir = {}};
    }

    Result<void> delete_instance(const std::string& name) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        if (!base::path_exists(instance_dir(name))) return {};
        return poolfs::discard(path_, instance_dir(name), remover_);
    }

    Result<void> rename_instance(const std::string& from, const std::string& to) override {
        LXM_TRY_VOID(poolfs::check_name("instance", from));
        LXM_TRY_VOID(poolfs::check_name("instance", to));
        if (!has_instance(from)) return not_found(from);
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
        if (!base::path_exists(src + "/rootfs")) return not_found(snapshot ? from + "/" + *snapshot : from);
        LXM_TRY(std::string image, poolfs::read_value(src + "/image"));
        // The trees are unshifted: a copy needs no owner changes.
        return build(to, [&](const std::string& dst) { return be_->clone(src + "/rootfs", dst, false); }, image, uid, gid);
    }

    Result<void> create_snapshot(const std::string& name, const std::string& snap) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY_VOID(poolfs::check_name("snapshot", snap));
        if (!has_instance(name)) return not_found(name);
        std::string d = instance_dir(name);
        if (base::path_exists(snapshot_dir(name, snap)))
            return base::make_error(std::errc::file_exists, "snapshot " + name + "/" + snap + " already exists");
        if (::mkdir((d + "/snapshots").c_str(), 0700) != 0 && errno != EEXIST)
            return base::errno_error("mkdir " + d + "/snapshots");
        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "snap"));
        base::Reverter rev;
        rev.add([&] { (void)be_->remove(tmp); });
        LXM_TRY_VOID(be_->clone(d + "/rootfs", tmp + "/rootfs", true));
        for (const char* f : {"image", "ids"}) {
            LXM_TRY(std::string v, poolfs::read_value(d + "/" + f));
            LXM_TRY_VOID(poolfs::write_value(tmp + "/" + f, v));
        }
        LXM_TRY_VOID(poolfs::rename_noreplace(tmp, snapshot_dir(name, snap)));
        rev.success();
        return {};
    }

    Result<void> restore_snapshot(const std::string& name, const std::string& snap) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY_VOID(poolfs::check_name("snapshot", snap));
        if (!has_instance(name)) return not_found(name);
        std::string s = snapshot_dir(name, snap);
        if (!base::path_exists(s + "/rootfs")) return not_found(name + "/" + snap);
        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "restore"));
        base::Reverter rev;
        rev.add([&] { (void)be_->remove(tmp); });
        LXM_TRY_VOID(be_->clone(s + "/rootfs", tmp + "/rootfs", false));
        // Commit point: the swap. The old tree then sits in tmp/ and goes with it.
        LXM_TRY_VOID(poolfs::rename_exchange(tmp + "/rootfs", instance_dir(name) + "/rootfs"));
        rev.success();
        return be_->remove(tmp);
    }

    Result<void> delete_snapshot(const std::string& name, const std::string& snap) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        LXM_TRY_VOID(poolfs::check_name("snapshot", snap));
        if (!base::path_exists(snapshot_dir(name, snap))) return {};
        return poolfs::discard(path_, snapshot_dir(name, snap), remover_);
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
        if (!base::path_exists(src + "/rootfs")) return not_found(from + "/" + snap);
        if (!has_instance(to)) return not_found(to);
        if (base::path_exists(snapshot_dir(to, to_snap)))
            return base::make_error(std::errc::file_exists, "snapshot " + to + "/" + to_snap + " already exists");
        std::string d = instance_dir(to);
        if (::mkdir((d + "/snapshots").c_str(), 0700) != 0 && errno != EEXIST)
            return base::errno_error("mkdir " + d + "/snapshots");
        LXM_TRY(std::string image, poolfs::read_value(src + "/image"));
        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "snap"));
        base::Reverter rev;
        rev.add([&] { (void)be_->remove(tmp); });
        LXM_TRY_VOID(be_->clone(src + "/rootfs", tmp + "/rootfs", true));
        LXM_TRY_VOID(write_meta(tmp, image, uid, gid));
        LXM_TRY_VOID(poolfs::rename_noreplace(tmp, snapshot_dir(to, to_snap)));
        rev.success();
        return {};
    }

    Result<void> check_quota() const override { return be_->check_quota(path_); }

    Result<void> set_instance_quota(const std::string& name, std::optional<uint64_t> bytes) override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        if (!has_instance(name)) return not_found(name);
        return be_->set_quota(instance_dir(name) + "/rootfs", bytes);
    }

    Result<PoolUsage> usage() const override { return poolfs::fs_usage(path_); }

    Result<uint64_t> instance_usage(const std::string& name) const override {
        LXM_TRY_VOID(poolfs::check_name("instance", name));
        if (!has_instance(name)) return not_found(name);
        // Allocated blocks of the tree (shared extents of clones counted in full).
        return poolfs::tree_usage(instance_dir(name) + "/rootfs");
    }

private:
    static base::Unexpected not_found(const std::string& what) {
        return base::make_error(std::errc::no_such_file_or_directory, "instance " + what + " not in pool");
    }

    Result<InstanceRootfs> build(const std::string& name, const std::function<Result<void>(const std::string&)>& make,
                                 const std::string& image, uid_t uid, gid_t gid) {
        if (base::path_exists(instance_dir(name)))
            return base::make_error(std::errc::file_exists, "instance " + name + " already exists in the pool");
        LXM_TRY(std::string tmp, poolfs::make_temp_dir(path_, "create"));
        base::Reverter rev;
        rev.add([&] { (void)be_->remove(tmp); });
        LXM_TRY_VOID(make(tmp + "/rootfs"));
        LXM_TRY_VOID(write_meta(tmp, image, uid, gid));
        LXM_TRY_VOID(poolfs::rename_noreplace(tmp, instance_dir(name)));
        rev.success();
        return instance_rootfs(name);
    }

    std::string path_;
    std::unique_ptr<TreeBackend> be_;
    poolfs::Remover remover_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::set<std::string> unpacking_;
};

class DirBackend final : public TreeBackend {
public:
    std::string name() const override { return "dir"; }
    Result<void> make_empty(const std::string& path) override {
        if (::mkdir(path.c_str(), 0755) != 0) return base::errno_error("mkdir " + path);
        return {};
    }
    Result<void> clone(const std::string& src, const std::string& dst, bool) override {
        return poolfs::copy_tree(src, dst);
    }
    Result<void> remove(const std::string& path) override { return base::remove_tree(path); }
};

}  // namespace

Result<void> TreeBackend::check_quota(const std::string& pool_path) const {
    return quota::project_quota_supported(pool_path);
}

Result<void> TreeBackend::set_quota(const std::string& tree, std::optional<uint64_t> bytes) {
    return quota::set_project_quota(tree, bytes);
}

std::unique_ptr<TreeBackend> make_dir_backend() { return std::make_unique<DirBackend>(); }

Result<std::unique_ptr<PoolDriver>> make_tree_pool(const std::string& path, std::unique_ptr<TreeBackend> backend) {
    LXM_TRY_VOID(base::wrap(poolfs::clean_temp(path, [&](const std::string& p) { return backend->remove(p); }),
                            "clean pool tmp"));
    return std::unique_ptr<PoolDriver>(std::make_unique<TreePool>(path, std::move(backend)));
}

}  // namespace lxm::store
