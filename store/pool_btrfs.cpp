// The btrfs backend of the tree pool: trees are subvolumes, clones are
// snapshots (O(1) in tree size), snapshots of instances are read-only.
#include <dirent.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstring>

#include "lxm/base/file.hpp"
#include "lxm/base/unique_fd.hpp"
#include "store/pool_quota.hpp"
#include "store/pool_tree.hpp"

namespace lxm::store {

using base::Result;
using base::UniqueFd;

namespace {

constexpr ino_t kSubvolRootIno = 256;  // BTRFS_FIRST_FREE_OBJECTID: the root dir of every subvolume

std::pair<std::string, std::string> split(const std::string& path) {
    auto p = path.rfind('/');
    if (p == std::string::npos) return {".", path};
    return {p == 0 ? "/" : path.substr(0, p), path.substr(p + 1)};
}

Result<UniqueFd> open_dir(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return base::errno_error("open " + path);
    return UniqueFd(fd);
}

Result<void> set_name(char* dst, size_t cap, const std::string& name) {
    if (name.empty() || name.size() >= cap) return base::make_error(std::errc::filename_too_long, "subvolume name " + name);
    std::memcpy(dst, name.c_str(), name.size() + 1);
    return {};
}

bool on_btrfs(int fd) {
    struct statfs sf;
    return ::fstatfs(fd, &sf) == 0 && sf.f_type == BTRFS_SUPER_MAGIC;
}

// Remove name in dirfd: directories recursively (subvolumes destroyed, after
// their content so nested subvolumes go first), everything else unlinked.
// Crosses into other st_dev only for btrfs subvolumes (never into mounts of other filesystems).
Result<void> remove_at(int dirfd, const std::string& name, const std::string& shown) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return {};
        return base::errno_error("stat " + shown);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return base::errno_error("unlink " + shown);
        return {};
    }
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return base::errno_error("open " + shown);
    UniqueFd d(fd);
    struct stat parent;
    if (::fstat(dirfd, &parent) != 0) return base::errno_error("stat parent of " + shown);
    bool subvol = st.st_ino == kSubvolRootIno && on_btrfs(d.get());
    if (st.st_dev != parent.st_dev && !subvol)
        return base::make_error(std::errc::device_or_resource_busy, "refusing to cross mount point " + shown);
    if (subvol) {
        // A read-only snapshot cannot lose its entries: clear the flag first.
        uint64_t flags = 0;
        if (::ioctl(d.get(), BTRFS_IOC_SUBVOL_GETFLAGS, &flags) == 0 && (flags & BTRFS_SUBVOL_RDONLY)) {
            flags &= ~static_cast<uint64_t>(BTRFS_SUBVOL_RDONLY);
            if (::ioctl(d.get(), BTRFS_IOC_SUBVOL_SETFLAGS, &flags) != 0) return base::errno_error("make " + shown + " writable");
        }
    }
    int dup = ::dup(d.get());
    if (dup < 0) return base::errno_error("dup");
    DIR* dir = ::fdopendir(dup);
    if (!dir) {
        ::close(dup);
        return base::errno_error("fdopendir " + shown);
    }
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(dir))
        if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, "..")) names.emplace_back(de->d_name);
    ::closedir(dir);
    for (const auto& n : names) LXM_TRY_VOID(remove_at(d.get(), n, shown + "/" + n));
    d.reset();
    if (subvol) {
        struct btrfs_ioctl_vol_args args {};
        LXM_TRY_VOID(set_name(args.name, sizeof args.name, name));
        if (::ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY, &args) != 0) return base::errno_error("destroy subvolume " + shown);
        return {};
    }
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return base::errno_error("rmdir " + shown);
    return {};
}

class BtrfsBackend final : public TreeBackend {
public:
    std::string name() const override { return "btrfs"; }

    Result<void> make_empty(const std::string& path) override {
        auto [parent, name] = split(path);
        LXM_TRY(UniqueFd pfd, open_dir(parent));
        struct btrfs_ioctl_vol_args args {};
        LXM_TRY_VOID(set_name(args.name, sizeof args.name, name));
        if (::ioctl(pfd.get(), BTRFS_IOC_SUBVOL_CREATE, &args) != 0) return base::errno_error("create subvolume " + path);
        if (::chmod(path.c_str(), 0755) != 0) return base::errno_error("chmod " + path);
        return {};
    }

    Result<void> clone(const std::string& src, const std::string& dst, bool readonly) override {
        LXM_TRY(UniqueFd sfd, open_dir(src));
        auto [parent, name] = split(dst);
        LXM_TRY(UniqueFd pfd, open_dir(parent));
        struct btrfs_ioctl_vol_args_v2 args {};
        args.fd = sfd.get();
        args.flags = readonly ? BTRFS_SUBVOL_RDONLY : 0;
        LXM_TRY_VOID(set_name(args.name, sizeof args.name, name));
        if (::ioctl(pfd.get(), BTRFS_IOC_SNAP_CREATE_V2, &args) != 0)
            return base::errno_error("snapshot " + src + " to " + dst);
        return {};
    }

    Result<void> remove(const std::string& path) override {
        auto [parent, name] = split(path);
        LXM_TRY(UniqueFd pfd, open_dir(parent));
        return remove_at(pfd.get(), name, path);
    }

    // qgroups: every subvolume has one; quotas are turned on for the whole
    // filesystem the first time a limit is set.
    Result<void> check_quota(const std::string&) const override { return {}; }

    Result<void> set_quota(const std::string& tree, std::optional<uint64_t> bytes) override {
        if (bytes) LXM_TRY_VOID(quota::btrfs_enable_quota(tree));
        auto r = quota::btrfs_limit_subvolume(tree, bytes);
        // No limit wanted and quotas never turned on: nothing to lift.
        if (!r && !bytes && r.error().code == std::errc::no_such_file_or_directory) return {};
        if (!r && !bytes && r.error().code == std::errc::not_connected) return {};
        return r;
    }
};

}  // namespace

Result<std::unique_ptr<TreeBackend>> make_btrfs_backend(const std::string& path) {
    LXM_TRY(UniqueFd fd, open_dir(path));
    if (!on_btrfs(fd.get())) return base::make_error(std::errc::not_supported, path + " is not on a btrfs filesystem");
    return std::unique_ptr<TreeBackend>(std::make_unique<BtrfsBackend>());
}

}  // namespace lxm::store
