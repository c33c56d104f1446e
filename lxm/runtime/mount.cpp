#include "lxm/runtime/mount.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace lxm::runtime {

using base::Result;

Result<void> mount_fs(const std::string& source, const std::string& target, const std::string& fstype,
                      unsigned long flags, const std::string& data) {
    if (::mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) != 0)
        return base::errno_error("mount " + (fstype.empty() ? source : fstype) + " on " + target);
    return {};
}

Result<void> bind_mount(const std::string& source, const std::string& target, bool recursive,
                        unsigned long extra_flags) {
    unsigned long flags = MS_BIND | (recursive ? MS_REC : 0);
    if (::mount(source.c_str(), target.c_str(), nullptr, flags, nullptr) != 0)
        return base::errno_error("bind mount " + source + " on " + target);
    if (extra_flags) return remount_bind(target, extra_flags);
    return {};
}

Result<void> remount_bind(const std::string& target, unsigned long flags) {
    // Locked flags (nodev, nosuid, noexec inherited from a less privileged namespace) must be kept.
    unsigned long keep = 0;
    struct ::statvfs sv;
    if (::statvfs(target.c_str(), &sv) == 0) {
        if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
        if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
    }
    if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | flags | keep, nullptr) != 0)
        return base::errno_error("remount " + target);
    return {};
}

Result<void> unmount(const std::string& target, int flags) {
    if (::umount2(target.c_str(), flags) != 0) return base::errno_error("unmount " + target);
    return {};
}

Result<base::UniqueFd> clone_tree(const std::string& path, bool recursive) {
    int fd = ::open_tree(AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
    if (fd < 0) return base::errno_error("open_tree " + path);
    return base::UniqueFd(fd);
}

Result<void> idmap_mount(int mount_fd, int userns_fd) {
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(userns_fd);
    if (::mount_setattr(mount_fd, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
        return base::errno_error("idmap mount (mount_setattr MOUNT_ATTR_IDMAP)");
    return {};
}

Result<void> attach_mount(int mount_fd, const std::string& target) {
    if (::move_mount(mount_fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return base::errno_error("move_mount to " + target);
    return {};
}

Result<void> mount_overlay(const std::string& lower, const std::string& upper, const std::string& work,
                           const std::string& target) {
    for (const auto* p : {&lower, &upper, &work})
        if (p->find_first_of(",:") != std::string::npos)
            return base::make_error(std::errc::invalid_argument, "overlay path contains ',' or ':': " + *p);
    std::string opts = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
    return mount_fs("overlay", target, "overlay", 0, opts);
}

bool is_mount_point(const std::string& path) {
    struct statx a {}, b {};
    if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &a) != 0) return false;
    if (a.stx_attributes & STATX_ATTR_MOUNT_ROOT) return true;
    std::string parent = path + "/..";
    if (::statx(AT_FDCWD, parent.c_str(), 0, STATX_MNT_ID, &b) != 0) return false;
    return a.stx_mnt_id != b.stx_mnt_id;
}

}  // namespace lxm::runtime
