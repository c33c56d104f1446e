// The cgroup v2 driver: one unified tree; devices through a BPF program.
#pragma once

#include "lxm/runtime/cgroup.hpp"

namespace lxm::runtime {

class CgroupV2Driver final : public CgroupDriver {
public:
    explicit CgroupV2Driver(CgroupLayout layout);

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
    std::string dir(const std::string& path) const;
    // Enables the controllers lxm uses in dir/cgroup.subtree_control, where available.
    base::Result<void> enable_controllers(const std::string& dir) const;
    base::Result<void> set_frozen(const std::string& path, bool frozen, std::chrono::milliseconds timeout);

    CgroupLayout layout_;
};

}  // namespace lxm::runtime
