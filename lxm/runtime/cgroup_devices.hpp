// Device access rules for a container's cgroup, as data. The v1 driver writes them as
// devices.allow lines, the v2 driver compiles them into a BPF program (cgroup_device_bpf.hpp).
// The list is an allow list: what no rule allows is denied.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::runtime {

struct DeviceRule {
    static constexpr int64_t kAny = -1;
    static constexpr uint8_t kMknod = 1, kRead = 2, kWrite = 4;  // the BPF_DEVCG_ACC_* bits

    char type = 'c';        // 'c' character, 'b' block, 'a' both
    int64_t major = kAny;   // kAny is "*"
    int64_t minor = kAny;
    uint8_t access = kMknod | kRead | kWrite;
    bool operator==(const DeviceRule&) const = default;
};

// null, zero, full, random, urandom, tty, console, ptmx, pts/*, fuse, net/tun (rwm), and mknod of
// any character or block device (as LXC does: nodes can be made, not opened).
const std::vector<DeviceRule>& default_device_rules();

// "c 1:3 rwm", "b *:* m", "a *:* rwm" (the v1 devices.allow syntax).
std::string to_v1_line(const DeviceRule& rule);
// Parses one devices.allow line; errors name the line.
base::Result<DeviceRule> parse_device_rule(std::string_view line);
// Checks type, numbers and access bits.
base::Result<void> validate_device_rule(const DeviceRule& rule);

// Whether the rules allow this access (type 'c' or 'b'; access a mask of kMknod|kRead|kWrite).
// The reference semantics that the v1 lines and the BPF program implement.
bool device_rules_allow(const std::vector<DeviceRule>& rules, char type, uint32_t major,
                        uint32_t minor, uint8_t access);

}  // namespace lxm::runtime
