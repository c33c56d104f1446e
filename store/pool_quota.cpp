#include "store/pool_quota.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <linux/quota.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "lxm/base/unique_fd.hpp"

namespace lxm::store::quota {

using base::Result;
using base::UniqueFd;

namespace {

Result<UniqueFd> open_dir(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return base::errno_error("open " + path);
    return UniqueFd(fd);
}

int quotactl_fd(int fd, unsigned cmd, int id, void* addr) {
    return static_cast<int>(::syscall(SYS_quotactl_fd, fd, cmd, id, addr));
}

// Set the project id (and on directories the inherit flag) of the open inode fd.
Result<void> tag(int fd, uint32_t projid, bool dir, const std::string& shown) {
    struct fsxattr fsx {};
    if (::ioctl(fd, FS_IOC_FSGETXATTR, &fsx) != 0) return base::errno_error("get project of " + shown);
    fsx.fsx_projid = projid;
    if (dir) fsx.fsx_xflags |= FS_XFLAG_PROJINHERIT;
    if (::ioctl(fd, FS_IOC_FSSETXATTR, &fsx) != 0) return base::errno_error("set project of " + shown);
    return {};
}

// Every directory and regular file below dirfd (never following symlinks; other
// inodes cannot be opened for the ioctl and count through their directory).
Result<void> tag_tree(int dirfd, uint32_t projid, const std::string& shown, dev_t dev) {
    LXM_TRY_VOID(tag(dirfd, projid, true, shown));
    int dup = ::dup(dirfd);
    if (dup < 0) return base::errno_error("dup");
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        return base::errno_error("opendir " + shown);
    }
    std::vector<std::pair<std::string, unsigned char>> entries;
    while (struct dirent* de = ::readdir(d))
        if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, "..")) entries.emplace_back(de->d_name, de->d_type);
    ::closedir(d);
    for (const auto& [n, type] : entries) {
        if (type != DT_DIR && type != DT_REG) continue;
        int fd = ::openat(dirfd, n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (type == DT_DIR ? O_DIRECTORY : 0));
        if (fd < 0) {
            if (errno == ENOENT || errno == ELOOP) continue;
            return base::errno_error("open " + shown + "/" + n);
        }
        UniqueFd f(fd);
        struct stat st;
        if (::fstat(fd, &st) != 0 || st.st_dev != dev) continue;  // never into other mounts
        if (S_ISDIR(st.st_mode)) {
            LXM_TRY_VOID(tag_tree(fd, projid, shown + "/" + n, dev));
        } else if (S_ISREG(st.st_mode)) {
            LXM_TRY_VOID(tag(fd, projid, false, shown + "/" + n));
        }
    }
    return {};
}

Result<uint32_t> project_of(int fd, const std::string& dir) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return base::errno_error("stat " + dir);
    // 0 is the default project of every untagged file: never use it.
    uint32_t id = static_cast<uint32_t>(st.st_ino);
    return id == 0 ? 1 : id;
}

}  // namespace

Result<void> project_quota_supported(const std::string& path) {
    LXM_TRY(UniqueFd fd, open_dir(path));
    struct if_dqinfo info {};
    if (quotactl_fd(fd.get(), QCMD(Q_GETINFO, PRJQUOTA), 0, &info) == 0) return {};
    int e = errno;
    std::string why = e == ESRCH   ? "project quotas are not enabled on its filesystem (mount it with prjquota)"
                      : e == ENOSYS ? "the kernel has no quotactl_fd"
                                    : std::string("its filesystem has no project quotas (") + std::strerror(e) + ")";
    return base::make_error(std::errc::not_supported, "disk quotas are not supported by this pool: " + why);
}

Result<void> set_project_quota(const std::string& dir, std::optional<uint64_t> bytes) {
    LXM_TRY_VOID(project_quota_supported(dir));
    LXM_TRY(UniqueFd fd, open_dir(dir));
    LXM_TRY(uint32_t projid, project_of(fd.get(), dir));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return base::errno_error("stat " + dir);
    LXM_TRY_VOID(tag_tree(fd.get(), projid, dir, st.st_dev));
    struct if_dqblk q {};
    q.dqb_valid = QIF_BLIMITS;
    uint64_t blocks = bytes ? (*bytes + 1023) / 1024 : 0;  // in 1 KiB units; 0 = no limit
    q.dqb_bhardlimit = blocks;
    q.dqb_bsoftlimit = blocks;
    if (quotactl_fd(fd.get(), QCMD(Q_SETQUOTA, PRJQUOTA), static_cast<int>(projid), &q) != 0)
        return base::errno_error("set project quota of " + dir);
    return {};
}

Result<uint64_t> project_usage(const std::string& dir) {
    LXM_TRY(UniqueFd fd, open_dir(dir));
    LXM_TRY(uint32_t projid, project_of(fd.get(), dir));
    struct if_dqblk q {};
    if (quotactl_fd(fd.get(), QCMD(Q_GETQUOTA, PRJQUOTA), static_cast<int>(projid), &q) != 0)
        return base::errno_error("get project quota of " + dir);
    return q.dqb_curspace;
}

Result<void> btrfs_enable_quota(const std::string& path) {
    LXM_TRY(UniqueFd fd, open_dir(path));
    struct btrfs_ioctl_quota_ctl_args a {};
    a.cmd = BTRFS_QUOTA_CTL_ENABLE;
    if (::ioctl(fd.get(), BTRFS_IOC_QUOTA_CTL, &a) != 0) return base::errno_error("enable btrfs quotas on " + path);
    return {};
}

Result<void> btrfs_limit_subvolume(const std::string& subvol, std::optional<uint64_t> bytes) {
    LXM_TRY(UniqueFd fd, open_dir(subvol));
    struct btrfs_ioctl_qgroup_limit_args a {};
    a.qgroupid = 0;  // the subvolume of fd
    a.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
    a.lim.max_rfer = bytes ? *bytes : ~uint64_t{0};  // all ones clears the limit
    if (::ioctl(fd.get(), BTRFS_IOC_QGROUP_LIMIT, &a) != 0) return base::errno_error("limit btrfs qgroup of " + subvol);
    return {};
}

}  // namespace lxm::store::quota
