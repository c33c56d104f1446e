// Limit checks and the v2 -> v1 weight conversions (the mapping systemd uses).
#include <algorithm>

#include "lxm/runtime/cgroup.hpp"

namespace lxm::runtime {

uint64_t cpu_weight_to_shares(uint64_t weight) {
    // v2 default 100 is v1 default 1024.
    return std::clamp<uint64_t>(weight * 1024 / 100, 2, 262144);
}

uint64_t io_weight_to_blkio_weight(uint64_t weight) {
    // v2 default 100 is CFQ default 500.
    return std::clamp<uint64_t>(weight * 500 / 100, 10, 1000);
}

uint64_t io_weight_to_bfq_weight(uint64_t weight) {
    // BFQ: 1..1000 with default 100. 1..100 maps to itself, 100..10000 onto 100..1000.
    weight = std::clamp<uint64_t>(weight, 1, 10000);
    if (weight <= 100) return weight;
    return 100 + (weight - 100) * 900 / 9900;
}

base::Result<void> validate_limits(const CgroupLimits& l) {
    auto bad = [](const std::string& why) { return base::make_error(std::errc::invalid_argument, "cgroup limits: " + why); };
    if (l.cpu_weight && (*l.cpu_weight < 1 || *l.cpu_weight > 10000))
        return bad("cpu_weight " + std::to_string(*l.cpu_weight) + " is outside 1..10000");
    if (l.io_weight && (*l.io_weight < 1 || *l.io_weight > 10000))
        return bad("io_weight " + std::to_string(*l.io_weight) + " is outside 1..10000");
    if (l.cpu_quota_us) {
        if (l.cpu_period_us < 1000 || l.cpu_period_us > 1000000)
            return bad("cpu_period_us " + std::to_string(l.cpu_period_us) + " is outside 1000..1000000");
        if (*l.cpu_quota_us != -1 && *l.cpu_quota_us < 1000)
            return bad("cpu_quota_us " + std::to_string(*l.cpu_quota_us) + " must be -1 (no limit) or at least 1000");
    }
    return {};
}

}  // namespace lxm::runtime
