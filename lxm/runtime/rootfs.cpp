#include "lxm/runtime/rootfs.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lxm/base/file.hpp"
#include "lxm/runtime/mount.hpp"

namespace lxm::runtime {

using base::Result;

Result<void> enter_private_mount_ns() {
    if (::unshare(CLONE_NEWNS) != 0) return base::errno_error("unshare mount namespace");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) return base::errno_error("make / rslave");
    return {};
}

Result<void> prepare_overlay_dirs(const std::string& lower, const std::string& upper, const std::string& work,
                                  uid_t uid, gid_t gid) {
    struct stat st;
    if (::stat(lower.c_str(), &st) != 0) return base::errno_error("stat " + lower);
    for (const auto* d : {&upper, &work}) {
        if (::mkdir(d->c_str(), 0755) != 0 && errno != EEXIST) return base::errno_error("mkdir " + *d);
    }
    struct stat ust;
    if (::lstat(upper.c_str(), &ust) != 0 || !S_ISDIR(ust.st_mode))
        return base::make_error(std::errc::not_a_directory, upper + " is not a directory");
    if (::chown(upper.c_str(), uid, gid) != 0) return base::errno_error("chown " + upper);
    if (::chmod(upper.c_str(), st.st_mode & 07777) != 0) return base::errno_error("chmod " + upper);
    if (::chmod(work.c_str(), 0700) != 0) return base::errno_error("chmod " + work);
    return {};
}

Result<std::string> assemble_rootfs(const Spec& spec, int userns_fd) {
    struct stat st;
    if (::stat(spec.rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return base::make_error(std::errc::no_such_file_or_directory, "rootfs " + spec.rootfs + " is not a directory");
    std::string root = spec.run_dir + "/rootfs";
    std::string lower = spec.run_dir + "/lower";
    LXM_TRY_VOID(base::mkdir_p(root, 0711));
    bool overlay = !spec.upper_dir.empty();

    if (spec.privileged) {
        if (overlay) LXM_TRY_VOID(mount_overlay(spec.rootfs, spec.upper_dir, spec.work_dir, root));
        else LXM_TRY_VOID(bind_mount(spec.rootfs, root, true));
        return root;
    }
    if (userns_fd < 0) return base::make_error(std::errc::invalid_argument, "no user namespace for the id map");
    LXM_TRY(base::UniqueFd tree, clone_tree(spec.rootfs, false));
    LXM_TRY_VOID(idmap_mount(tree.get(), userns_fd));
    if (!overlay) {
        LXM_TRY_VOID(attach_mount(tree.get(), root));
        return root;
    }
    LXM_TRY_VOID(base::mkdir_p(lower, 0711));
    LXM_TRY_VOID(attach_mount(tree.get(), lower));
    LXM_TRY_VOID(mount_overlay(lower, spec.upper_dir, spec.work_dir, root));
    return root;
}

}  // namespace lxm::runtime
