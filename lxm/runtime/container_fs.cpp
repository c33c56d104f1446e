#include "lxm/runtime/container_fs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lxm/base/file.hpp"
#include "lxm/base/safe_path.hpp"
#include "lxm/runtime/mount.hpp"

namespace lxm::runtime {

using base::Result;
using base::UniqueFd;

const std::vector<std::string>& masked_paths() {
    static const std::vector<std::string> p = {
        "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats",
        "/proc/acpi", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    };
    return p;
}

const std::vector<std::string>& readonly_paths() {
    static const std::vector<std::string> p = {
        "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs",
    };
    return p;
}

namespace {

// A mount target inside root: created if missing (dir or empty file), symlinks refused.
Result<UniqueFd> target_in(int root_fd, const std::string& path, bool dir) {
    std::string rel = path;
    while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
    if (dir) return base::mkdir_in_root(root_fd, rel);
    if (auto existing = base::open_in_root_nofollow(root_fd, rel, O_PATH); existing) {
        struct stat st;
        if (::fstat(existing->get(), &st) == 0 && S_ISDIR(st.st_mode))
            return base::make_error(std::errc::is_a_directory, path + " is a directory");
        return existing;
    }
    auto slash = rel.rfind('/');
    std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
    std::string leaf = slash == std::string::npos ? rel : rel.substr(slash + 1);
    LXM_TRY(UniqueFd pfd, base::mkdir_in_root(root_fd, parent));
    LXM_TRY(UniqueFd dfd, base::open_in_root_nofollow(pfd.get(), ".", O_RDONLY | O_DIRECTORY));
    int fd = ::openat(dfd.get(), leaf.c_str(), O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EISDIR) return base::make_error(std::errc::is_a_directory, path + " is a directory");
    if (fd < 0) return base::errno_error("create " + path);
    ::close(fd);
    return base::open_in_root_nofollow(pfd.get(), leaf, O_PATH);
}

Result<void> mount_at(int root_fd, const std::string& path, bool dir, const std::string& source,
                      const std::string& fstype, unsigned long flags, const std::string& data = {}) {
    LXM_TRY(UniqueFd t, target_in(root_fd, path, dir));
    return base::wrap(mount_fs(source, base::fd_path(t.get()), fstype, flags, data), path);
}

Result<void> bind_at(int root_fd, const std::string& source, const std::string& path, bool dir,
                     unsigned long remount_flags) {
    LXM_TRY(UniqueFd t, target_in(root_fd, path, dir));
    std::string tp = base::fd_path(t.get());
    LXM_TRY_VOID(base::wrap(bind_mount(source, tp, dir), "bind " + path));
    if (remount_flags) {
        // Reopen: the fd still names the covered inode, not the new mount.
        LXM_TRY(UniqueFd t2, target_in(root_fd, path, dir));
        LXM_TRY_VOID(base::wrap(remount_bind(base::fd_path(t2.get()), remount_flags), "remount " + path));
    }
    return {};
}

Result<void> symlink_at(int root_fd, const std::string& target, const std::string& path) {
    std::string rel = path;
    while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
    auto slash = rel.rfind('/');
    std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
    std::string leaf = slash == std::string::npos ? rel : rel.substr(slash + 1);
    LXM_TRY(UniqueFd pfd, base::mkdir_in_root(root_fd, parent));
    LXM_TRY(UniqueFd dfd, base::open_in_root_nofollow(pfd.get(), ".", O_RDONLY | O_DIRECTORY));
    if (::symlinkat(target.c_str(), dfd.get(), leaf.c_str()) != 0 && errno != EEXIST)
        return base::errno_error("symlink " + path);
    return {};
}

bool exists_in(int root_fd, const std::string& path, bool* is_dir) {
    auto fd = base::open_in_root_nofollow(root_fd, path.substr(1), O_PATH);
    if (!fd) return false;
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) return false;
    *is_dir = S_ISDIR(st.st_mode);
    return true;
}

Result<void> setup_dev(int root_fd, const ContainerFsOptions& o) {
    LXM_TRY_VOID(mount_at(root_fd, "/dev", true, "none", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME,
                          "mode=755,size=65536k"));
    // Device nodes can't be made in a user namespace: bind the host's.
    for (const char* dev : {"null", "zero", "full", "random", "urandom", "tty"}) {
        std::string host = std::string("/dev/") + dev;
        LXM_TRY_VOID(bind_at(root_fd, host, host, false, 0));
    }
    LXM_TRY_VOID(mount_at(root_fd, "/dev/pts", true, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                          "newinstance,ptmxmode=0666,mode=0620,gid=5"));
    LXM_TRY_VOID(symlink_at(root_fd, "pts/ptmx", "/dev/ptmx"));
    LXM_TRY_VOID(mount_at(root_fd, "/dev/shm", true, "shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k"));
    LXM_TRY_VOID(mount_at(root_fd, "/dev/mqueue", true, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    LXM_TRY_VOID(symlink_at(root_fd, "/proc/self/fd", "/dev/fd"));
    LXM_TRY_VOID(symlink_at(root_fd, "/proc/self/fd/0", "/dev/stdin"));
    LXM_TRY_VOID(symlink_at(root_fd, "/proc/self/fd/1", "/dev/stdout"));
    LXM_TRY_VOID(symlink_at(root_fd, "/proc/self/fd/2", "/dev/stderr"));
    if (!o.console_slave.empty()) LXM_TRY_VOID(bind_at(root_fd, o.console_slave, "/dev/console", false, 0));
    return {};
}

Result<void> setup_cgroup(int root_fd, const ContainerFsOptions& o) {
    for (const auto& m : o.cgroup) {
        if (!m.symlink.empty()) {
            LXM_TRY_VOID(symlink_at(root_fd, m.symlink, m.target));
            continue;
        }
        LXM_TRY_VOID(mount_at(root_fd, m.target, true, m.source, m.fstype, m.flags, m.data));
    }
    // The tmpfs that holds the hierarchies becomes read-only once they are in place.
    if (!o.cgroup.empty() && o.cgroup.front().fstype == "tmpfs") {
        const auto& t = o.cgroup.front();
        LXM_TRY(UniqueFd fd, target_in(root_fd, t.target, true));
        LXM_TRY_VOID(base::wrap(mount_fs("", base::fd_path(fd.get()), "", MS_REMOUNT | MS_RDONLY | t.flags, t.data),
                                "read-only " + t.target));
    }
    return {};
}

Result<void> setup_masks(int root_fd) {
    for (const auto& p : masked_paths()) {
        bool dir = false;
        if (!exists_in(root_fd, p, &dir)) continue;
        if (dir) {
            LXM_TRY_VOID(mount_at(root_fd, p, true, "none", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                  "size=0"));
        } else {
            LXM_TRY_VOID(bind_at(root_fd, "/dev/null", p, false, 0));
        }
    }
    for (const auto& p : readonly_paths()) {
        bool dir = false;
        if (!exists_in(root_fd, p, &dir)) continue;
        LXM_TRY(UniqueFd t, target_in(root_fd, p, dir));
        std::string tp = base::fd_path(t.get());
        LXM_TRY_VOID(base::wrap(bind_mount(tp, tp, true), "bind " + p));
        LXM_TRY(UniqueFd t2, target_in(root_fd, p, dir));
        LXM_TRY_VOID(base::wrap(remount_bind(base::fd_path(t2.get()), MS_RDONLY | MS_NOSUID | MS_NODEV), p));
    }
    // The network namespace is the container's own: let it tune its network.
    if (bool dir; exists_in(root_fd, "/proc/sys/net", &dir)) {
        LXM_TRY(UniqueFd t, target_in(root_fd, "/proc/sys/net", true));
        std::string tp = base::fd_path(t.get());
        LXM_TRY_VOID(base::wrap(bind_mount(tp, tp, true), "bind /proc/sys/net"));
        LXM_TRY(UniqueFd t2, target_in(root_fd, "/proc/sys/net", true));
        LXM_TRY_VOID(base::wrap(remount_bind(base::fd_path(t2.get()), MS_NOSUID | MS_NODEV), "/proc/sys/net"));
    }
    return {};
}

}  // namespace

Result<void> setup_container_fs(const ContainerFsOptions& o) {
    // The root came with the mount namespace copy, so it is locked (pivot_root
    // refuses locked mounts): bind it onto itself to get a mount of our own.
    LXM_TRY_VOID(base::wrap(bind_mount(o.root, o.root, true), "bind rootfs onto itself"));
    LXM_TRY(UniqueFd root, base::open_fd(o.root, O_PATH | O_DIRECTORY));
    LXM_TRY_VOID(mount_at(root.get(), "/proc", true, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    if (o.own_netns) {
        LXM_TRY_VOID(mount_at(root.get(), "/sys", true, "sysfs", "sysfs",
                              MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
    } else {
        LXM_TRY_VOID(bind_at(root.get(), "/sys", "/sys", true, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
    }
    LXM_TRY_VOID(setup_cgroup(root.get(), o));
    LXM_TRY_VOID(setup_dev(root.get(), o));
    LXM_TRY_VOID(setup_masks(root.get()));
    return {};
}

Result<void> enter_root(const std::string& root) {
    if (::chdir(root.c_str()) != 0) return base::errno_error("chdir " + root);
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return base::errno_error("pivot_root");
    // The old root is stacked on top of the new one: detach it.
    if (::umount2(".", MNT_DETACH) != 0) return base::errno_error("detach old root");
    if (::chdir("/") != 0) return base::errno_error("chdir /");
    return {};
}

}  // namespace lxm::runtime
