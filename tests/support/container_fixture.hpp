// A container for runtime tests: a cached rootfs (scripts/build-rootfs.sh),
// a per-test overlay upper dir, run and log dirs in a TempDir, a cgroup parent
// of its own, and lxm-monitor started through the real launch path. Everything
// is removed in the destructor, whatever happened.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/runtime/monitor_client.hpp"
#include "lxm/runtime/spec.hpp"
#include "tests/support/test_env.hpp"

namespace lxm::test {

// Path of the cached rootfs for a recipe in templates/recipes ("busybox", "debian-12"),
// building it once if needed. Empty with a reason in *why when it can't be had.
std::string cached_rootfs(const std::string& recipe, std::string* why);

struct ExecResult {
    int code = -1;
    std::string out, err;
};

class TestContainer {
public:
    TestContainer(const std::string& recipe, const std::string& name);
    ~TestContainer();

    runtime::Spec& spec() { return spec_; }
    const std::string& dir() const { return tmp_.path(); }
    bool available() const { return !rootfs_.empty(); }
    const std::string& unavailable_reason() const { return why_; }
    uint32_t host_base() const { return base_; }
    // Copy the lxm-probe binary into the container's upper layer at /usr/local/bin/lxm-probe.
    base::Result<void> install_probe();

    base::Result<runtime::LaunchResult> start();
    base::Result<runtime::MonitorClient> client();
    base::Result<ExecResult> exec(const std::vector<std::string>& args, int timeout_s = 60);
    base::Result<int> stop(int timeout_s, bool force);
    // The monitor's pid (from the launch, or from its run dir when another process started it).
    pid_t monitor_pid() const;
    // Whether the monitor process still exists.
    bool monitor_alive() const;
    // Wait (bounded) for the monitor process to be gone.
    bool wait_monitor_gone(int timeout_ms);
    std::string cgroup_parent() const { return spec_.cgroup_parent; }
    // Host paths of the payload cgroup in every mounted v1 hierarchy and the unified one.
    std::vector<std::string> cgroup_dirs(const std::string& rel) const;

private:
    TempDir tmp_;
    std::string rootfs_, why_;
    uint32_t base_ = 0;
    runtime::Spec spec_;
    std::optional<runtime::LaunchResult> launched_;
};

}  // namespace lxm::test
