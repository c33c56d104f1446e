// The cgroup v1 driver: one directory per mounted hierarchy; in hybrid mode also the
// controller-less cgroup2 directory, which tracks the processes (cgroup.kill, cgroup.events).
#pragma once

#include "lxm/runtime/cgroup.hpp"

namespace lxm::runtime {

class CgroupV1Driver final : public CgroupDriver {
public:
    explicit CgroupV1Driver(CgroupLayout layout);

    const CgroupLayout& layout() const override { return layout_; }
    base::Result<void> create(const std::string& path) override;
    base::Result<void> destroy(const std::string& path) override;
    base::Result<void> attach(const std::string& path, pid_t pid) override;
    base::Result<void> chown_for_container(const std::string& path, uid_t uid, gid_t gid) override;
    base::Result<void> apply_limits(const std::string& path, const CgroupLimits& limits) override;
    base::Result<void> apply_device_rules(const std::string& path, const std::vector<DeviceRule>& rules) override;
    base::Result<void> freeze(const std::string& path, std::chrono::milliseconds timeout) override;
    base::Result<void> thaw(const std::string& path, std::chrono::milliseconds timeout) override;
    base::Result<void> kill_all(const std::string& path, std::chrono::milliseconds timeout) override;
    base::Result<std::vector<pid_t>> pids(const std::string& path) override;
    base::Result<bool> is_populated(const std::string& path) override;
    base::Result<CgroupStats> stats(const std::string& path) override;
    base::Result<std::vector<CgroupMount>> container_mounts(const std::string& path) const override;

private:
    // A directory tree the driver keeps a copy of the cgroup in.
    struct Tree {
        std::string label;  // "memory", "cpu,cpuacct", "name=systemd", "cgroup2"
        std::string base;   // mount point
        bool cpuset = false;
        bool unified = false;
    };
    std::vector<Tree> trees() const;
    // The cgroup's directory in the hierarchy carrying controller; empty when there is none.
    std::string dir_for(std::string_view controller, const std::string& path) const;
    std::string unified_dir(const std::string& path) const;
    // Where the processes are counted: the cgroup2 dir in hybrid mode, else freezer, else the first.
    std::string tracking_dir(const std::string& path) const;

    CgroupLayout layout_;
};

}  // namespace lxm::runtime
