// Times as the store keeps them (unix nanoseconds, 0 = never set) and as the API shows them.
#pragma once

#include <chrono>
#include <cstdint>

#include "lxm/apitypes/time.hpp"

namespace lxm::core {

inline int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// 0 (never set) is Go's zero time on the wire.
inline apitypes::Timestamp api_time(int64_t ns) {
    if (ns == 0) return apitypes::zero_time();
    return apitypes::Timestamp(std::chrono::nanoseconds(ns));
}

}  // namespace lxm::core
