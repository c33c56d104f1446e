// Device rules as a BPF_PROG_TYPE_CGROUP_DEVICE program for cgroup v2: generated from the rule
// table, loaded with the raw bpf() syscall and attached to a cgroup directory.
#pragma once

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/runtime/cgroup_devices.hpp"

namespace lxm::runtime {

// The program: returns 1 (allow) when a rule matches the access in its bpf_cgroup_dev_ctx, else 0.
// Rules are checked in order; each is one block of compares that jumps to the next block.
base::Result<std::vector<bpf_insn>> device_rules_to_bpf(const std::vector<DeviceRule>& rules);

// BPF_PROG_LOAD as BPF_PROG_TYPE_CGROUP_DEVICE; the error carries the verifier log.
base::Result<base::UniqueFd> load_device_bpf(const std::vector<bpf_insn>& program);

// Attach the program to the cgroup directory (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) and detach the
// device programs that were attached there before, so applying a policy twice replaces it.
base::Result<void> attach_device_bpf(int cgroup_dir_fd, int prog_fd);

// All of it for one cgroup2 directory: generate, load, attach (replacing what lxm attached before).
base::Result<void> apply_device_bpf(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules);

// Ids of the device programs attached directly to the cgroup directory.
base::Result<std::vector<uint32_t>> attached_device_bpf_ids(int cgroup_dir_fd);

}  // namespace lxm::runtime
