// Spec: everything the runtime needs to start one container. Built by the
// daemon (or a test), serialised to JSON and handed to lxm-monitor.
#pragma once

#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"

namespace lxm::runtime {

// One line of /proc/<pid>/uid_map: ids [inside, inside+count) map to [outside, ...).
struct IdMapEntry {
    uint32_t inside = 0;
    uint32_t outside = 0;
    uint32_t count = 0;
    bool operator==(const IdMapEntry&) const = default;
};

struct IdMap {
    std::vector<IdMapEntry> uid;
    std::vector<IdMapEntry> gid;
    bool empty() const { return uid.empty() && gid.empty(); }
    // The host id that container root maps to (the allocated base).
    std::optional<uint32_t> host_root_uid() const;
    std::optional<uint32_t> host_root_gid() const;
    bool operator==(const IdMap&) const = default;
};

// Cgroup limits; unset fields leave the kernel default.
struct CgroupLimits {
    std::optional<int64_t> memory_max;      // bytes
    std::optional<int64_t> memory_swap_max; // bytes (memory+swap on v1)
    std::optional<int64_t> cpu_quota_us;    // with cpu_period_us: "cpu.max"
    int64_t cpu_period_us = 100000;
    std::optional<uint64_t> cpu_weight;     // 1..10000 (v2 scale; converted for v1 shares)
    std::optional<int64_t> pids_max;
    std::optional<uint64_t> io_weight;      // 1..10000 (v2 scale; converted for v1 blkio.weight)
    bool operator==(const CgroupLimits&) const = default;
};

// How a graceful stop asks this init to shut down.
int default_stop_signal_for_init(const std::string& init_kind);  // "systemd", "sysvinit", "busybox"

struct Spec {
    std::string name;                 // instance name (DNS label)
    std::string rootfs;               // directory with the distro tree (unshifted, owned by 0)
    std::string upper_dir;            // when set: overlay upper (owned by host root uid) over rootfs
    std::string work_dir;             // overlay work dir (same filesystem as upper_dir)
    std::string run_dir;              // per-container runtime dir: monitor socket, mount points
    std::string log_dir;              // console.log, monitor.log
    bool privileged = false;          // no user namespace: only on explicit request
    IdMap idmap;                      // required unless privileged
    std::string hostname;
    std::vector<std::string> init = {"/sbin/init"};
    std::vector<std::string> env;     // extra KEY=VALUE for init (container=lxm is always set)
    int stop_signal = SIGRTMIN + 3;
    CgroupLimits limits;
    std::string cgroup_parent = "lxm";  // payload at <parent>/<name>, monitor at <parent>/<name>.monitor
    std::vector<std::string> net_links;  // host-side links to move into the container netns, as "host=inside"
    bool share_host_net = false;      // no network namespace (tests, privileged tooling)
    std::string apparmor_profile;     // rendered profile name; empty when AppArmor is unavailable
    std::string seccomp_policy;       // policy file path; empty = built-in default policy
    bool seccomp = true;

    std::string monitor_socket() const { return run_dir + "/monitor.sock"; }
    std::string console_log() const { return log_dir + "/console.log"; }
};

void to_json(nlohmann::json& j, const IdMapEntry& e);
void from_json(const nlohmann::json& j, IdMapEntry& e);
void to_json(nlohmann::json& j, const IdMap& m);
void from_json(const nlohmann::json& j, IdMap& m);
void to_json(nlohmann::json& j, const CgroupLimits& l);
void from_json(const nlohmann::json& j, CgroupLimits& l);
void to_json(nlohmann::json& j, const Spec& s);
void from_json(const nlohmann::json& j, Spec& s);

// Checks a spec before anything is created: names, paths, maps. Clear errors.
base::Result<void> validate(const Spec& spec);

}  // namespace lxm::runtime
