// Starting a container: the parent half (in the monitor, host namespaces) and
// the child half (the future init) meet at the named steps of sync.hpp.
//
//   parent                                  child (new user/pid/mnt/uts/ipc[/net] ns)
//   clone3 ───────────────────────────────> send ChildStarted, wait
//   write uid/gid maps, join payload cgroup,
//   move links into the netns
//   send MapsWritten ─────────────────────> become root, unshare cgroup ns, mounts,
//                                           pivot_root, hostname, console, confine,
//   sync socket closes (O_CLOEXEC) <─────── execve(init)   [or: send Error, exit]
//
// Everything expensive (seccomp BPF, idmapped rootfs, cgroup, pty) is prepared
// by the caller before clone and handed in through StartContext.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/runtime/container_fs.hpp"
#include "lxm/runtime/spec.hpp"

namespace lxm::runtime {

struct StartContext {
    std::string rootfs_mount;           // assembled rootfs (a mount point in the caller's mount ns)
    std::string console_slave;          // host path of the console pty slave
    std::vector<FsMount> cgroup_mounts; // the cgroup view to build under /sys/fs/cgroup
    // Parent side, after the maps are written and before the child goes on.
    std::function<base::Result<void>(pid_t)> place_in_cgroup;
    std::function<base::Result<void>(pid_t)> setup_network;
    // Child side, the last step before execve (AppArmor exec label, caps, seccomp).
    std::function<base::Result<void>()> confine;
};

struct StartedInit {
    pid_t pid = -1;          // host pid of init
    base::UniqueFd pidfd;
};

// clone3 into the namespaces and run the child half; returns once init was executed.
base::Result<StartedInit> start_init(const Spec& spec, const StartContext& ctx);

// The environment init gets: container=lxm, PATH, TERM, plus spec.env.
std::vector<std::string> init_environment(const Spec& spec);

// In a child forked from the monitor: default dispositions and an empty mask,
// so init and exec'd commands don't inherit the monitor's signal setup.
void reset_signals_for_exec();

// clone3 with these flags, fork-like (no new stack); returns 0 in the child.
base::Result<pid_t> clone3_fork(uint64_t flags, int* pidfd_out);

}  // namespace lxm::runtime
