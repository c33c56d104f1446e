// The container's filesystem view, built by the child half of the start
// sequence (in the container's user and mount namespaces, as its root):
// /proc, read-only /sys, the cgroup tree, a private /dev with a console, masks
// over sensitive paths, then pivot_root. Every mount target inside the rootfs
// is resolved through the root fd without following symlinks.
#pragma once

#include <string>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::runtime {

// A mount (or symlink) to make inside the container, target absolute inside it.
struct FsMount {
    std::string source;
    std::string target;
    std::string fstype;
    std::string data;
    unsigned long flags = 0;
    std::string symlink;  // when set: make target a symlink to this instead of mounting
};

struct ContainerFsOptions {
    std::string root;             // host path of the assembled rootfs (a mount point)
    std::string console_slave;    // host path of the console pty slave; empty = no console
    bool own_netns = true;        // sysfs can be mounted fresh only with an own network namespace
    std::vector<FsMount> cgroup;  // the cgroup tree under /sys/fs/cgroup, in order
};

// Paths masked with /dev/null (files) or an empty read-only tmpfs (dirs).
const std::vector<std::string>& masked_paths();
// Paths made read-only by a bind remount.
const std::vector<std::string>& readonly_paths();

// Child side, before pivot_root: all mounts under opts.root.
base::Result<void> setup_container_fs(const ContainerFsOptions& opts);
// Child side: pivot_root into root and detach the old root.
base::Result<void> enter_root(const std::string& root);

}  // namespace lxm::runtime
