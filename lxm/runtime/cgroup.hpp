// Cgroups: the host's cgroup layout (v1, hybrid or unified v2) and one driver
// interface over both versions. Every operation takes a cgroup path relative
// to the root of each hierarchy, e.g. "lxm/c1" or "lxm/c1.monitor".
//
// The root of the cgroup mounts ("/sys/fs/cgroup") is an input, so unit tests
// run the drivers against a fake tree in a temp dir.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/runtime/cgroup_devices.hpp"
#include "lxm/runtime/spec.hpp"

namespace lxm::runtime {

enum class CgroupMode {
    v1,      // legacy: only v1 hierarchies
    hybrid,  // v1 hierarchies plus a controller-less cgroup2 at <root>/unified
    v2,      // unified: one cgroup2 mounted at <root>
};

std::string_view to_string(CgroupMode mode);

// One mounted v1 hierarchy.
struct CgroupHierarchy {
    std::string mount_dir;                 // directory under the root: "cpu,cpuacct", "systemd"
    std::vector<std::string> controllers;  // {"cpu", "cpuacct"}; empty for a named hierarchy
    std::string name;                      // "systemd" for "name=systemd"; empty otherwise
    bool has(std::string_view controller) const;
    // Mount data that mounts this hierarchy again: "cpu,cpuacct" or "none,name=systemd".
    std::string mount_data() const;
    bool operator==(const CgroupHierarchy&) const = default;
};

struct CgroupLayout {
    CgroupMode mode = CgroupMode::v1;
    std::string root = "/sys/fs/cgroup";  // where the cgroup filesystems are mounted
    std::vector<CgroupHierarchy> v1;      // in mountinfo order
    // The cgroup2 mount relative to root: "" (v2), "unified" (hybrid); nullopt when there is none.
    std::optional<std::string> unified_dir;
    std::vector<std::string> unified_controllers;  // cgroup.controllers of the cgroup2 root

    // Pure: which cgroup filesystems are mounted at root or directly below it, from the text of
    // /proc/self/mountinfo. unified_controllers stays empty (it is not in mountinfo).
    static base::Result<CgroupLayout> parse(std::string_view mountinfo, std::string root = "/sys/fs/cgroup");
    // parse() on the mountinfo file, then read cgroup.controllers of the cgroup2 root.
    static base::Result<CgroupLayout> detect(std::string root = "/sys/fs/cgroup",
                                             const std::string& mountinfo_path = "/proc/self/mountinfo");

    // The v1 hierarchy carrying a controller ("memory") or a name ("name=systemd"); null if none.
    const CgroupHierarchy* hierarchy_for(std::string_view controller) const;
    // Absolute path of the cgroup2 root; empty when there is no cgroup2 mount.
    std::string unified_path() const;
};

// Plain data for the container's child: mounts to make under /sys/fs/cgroup after it has unshared
// its cgroup namespace, so that an init inside sees its own cgroup as the root and accepts the tree.
struct CgroupMount {
    std::string source;          // "tmpfs", "cgroup", "cgroup2"
    std::string target;          // relative to /sys/fs/cgroup; "" is /sys/fs/cgroup itself
    std::string fstype;          // "tmpfs", "cgroup", "cgroup2"; empty for a symlink
    std::string data;            // mount data: "mode=755", "cpu,cpuacct", "none,name=systemd"
    unsigned long flags = 0;     // MS_* flags
    bool is_symlink = false;     // make a symlink at target pointing to symlink_target instead
    std::string symlink_target;  // relative link text: "cpu,cpuacct"
    bool operator==(const CgroupMount&) const = default;
};

// Absent values mean the controller (or its file) is not there.
struct CgroupStats {
    std::optional<uint64_t> memory_bytes;  // v1 memory.usage_in_bytes, v2 memory.current
    std::optional<uint64_t> cpu_usage_ns;  // v1 cpuacct.usage, v2 cpu.stat usage_usec * 1000
    std::optional<uint64_t> pids;          // pids.current
};

inline constexpr std::chrono::milliseconds kCgroupDefaultTimeout{10000};

class CgroupDriver {
public:
    virtual ~CgroupDriver() = default;

    virtual const CgroupLayout& layout() const = 0;

    // Make the cgroup (and missing parents) in every hierarchy. Fails with file_exists when the
    // cgroup itself already exists; on failure nothing it made is left. v1: cpuset.cpus/mems are
    // copied from the parent and cgroup.clone_children is set in what it creates; v2: the
    // controllers lxm uses (cpuset cpu io memory pids) are enabled in each parent's subtree_control.
    virtual base::Result<void> create(const std::string& path) = 0;
    // Remove the cgroup and its descendants, deepest first, with rmdir only. Fails with
    // device_or_resource_busy when processes remain. A missing cgroup is not an error.
    virtual base::Result<void> destroy(const std::string& path) = 0;
    // Move a process (all its threads) into the cgroup in every hierarchy.
    virtual base::Result<void> attach(const std::string& path, pid_t pid) = 0;
    // Hand the cgroup to a manager running as uid/gid (container root on the host): the directory
    // and the files a delegated manager writes (cgroup.procs, tasks, cgroup.subtree_control, ...).
    virtual base::Result<void> chown_for_container(const std::string& path, uid_t uid, gid_t gid) = 0;
    // Write the limits that are set. A limit whose controller is missing is an error naming it; the
    // limits are checked before anything is written. memory_swap_max is swap alone (as v2
    // memory.swap.max); v1 writes memory.memsw.limit_in_bytes = memory_max + memory_swap_max, so
    // on v1 a swap limit needs memory_max. Negative memory/pids values and cpu_quota_us -1 mean
    // "max" (unlimited).
    virtual base::Result<void> apply_limits(const std::string& path, const CgroupLimits& limits) = 0;
    // Allow only the listed devices (everything else is denied). Apply right after create(): v1
    // refuses to deny "a" once the cgroup has children.
    virtual base::Result<void> apply_device_rules(const std::string& path,
                                                  const std::vector<DeviceRule>& rules) = 0;
    base::Result<void> apply_device_policy(const std::string& path) {
        return apply_device_rules(path, default_device_rules());
    }
    // Freeze every process in the subtree and wait until the kernel says it is frozen; on timeout
    // the cgroup is thawed again and the error is timed_out.
    virtual base::Result<void> freeze(const std::string& path,
                                      std::chrono::milliseconds timeout = kCgroupDefaultTimeout) = 0;
    virtual base::Result<void> thaw(const std::string& path,
                                    std::chrono::milliseconds timeout = kCgroupDefaultTimeout) = 0;
    // SIGKILL every process in the subtree and wait until it is empty (bounded).
    virtual base::Result<void> kill_all(const std::string& path,
                                        std::chrono::milliseconds timeout = kCgroupDefaultTimeout) = 0;
    // Every pid in the subtree (sorted, no duplicates).
    virtual base::Result<std::vector<pid_t>> pids(const std::string& path) = 0;
    // Whether any process lives in the subtree.
    virtual base::Result<bool> is_populated(const std::string& path) = 0;
    virtual base::Result<CgroupStats> stats(const std::string& path) = 0;
    // The cgroup view the container's child mounts after unsharing its cgroup namespace (the root
    // of each mount is then the container's own cgroup, so the list does not depend on the path;
    // path is only checked).
    virtual base::Result<std::vector<CgroupMount>> container_mounts(const std::string& path) const = 0;
};

// The v1 driver for v1 and hybrid layouts (it also keeps the cgroup2 dir for process tracking in
// hybrid mode), the v2 driver for unified layouts.
base::Result<std::unique_ptr<CgroupDriver>> make_cgroup_driver(const CgroupLayout& layout);

// Checks a relative cgroup path: non-empty, no leading '/', no empty, "." or ".." components,
// no newline. Returns its components.
base::Result<std::vector<std::string>> split_cgroup_path(std::string_view path);

// Weight conversions (the v2 scale is 1..10000 with default 100). Same mapping as systemd uses.
uint64_t cpu_weight_to_shares(uint64_t weight);        // v1 cpu.shares 2..262144, 100 -> 1024
uint64_t io_weight_to_blkio_weight(uint64_t weight);   // v1 blkio.weight 10..1000, 100 -> 500
uint64_t io_weight_to_bfq_weight(uint64_t weight);     // blkio.bfq.weight 1..1000, 100 -> 100
// Range checks on the limits (weights 1..10000, period 1000..1000000 us, quota > 0 or -1).
base::Result<void> validate_limits(const CgroupLimits& limits);

}  // namespace lxm::runtime
