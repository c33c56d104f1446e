// Timestamps on the wire: RFC 3339 with nanoseconds, as Go's time.Time marshals
// them (RFC3339Nano: trailing zeros of the fraction dropped), always in UTC.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"

namespace lxm::apitypes {

using Timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

// Go's zero time "0001-01-01T00:00:00Z" lies outside what nanoseconds since 1970
// can hold; it (and anything before 1678 or after 2261) maps to zero_time().
constexpr Timestamp zero_time() { return Timestamp::min(); }

Timestamp now();
std::string format_rfc3339(Timestamp t);
base::Result<Timestamp> parse_rfc3339(std::string_view text);

}  // namespace lxm::apitypes

namespace nlohmann {
template <>
struct adl_serializer<lxm::apitypes::Timestamp> {
    static void to_json(json& j, const lxm::apitypes::Timestamp& t);
    // Throws json::type_error on a malformed time (callers catch at the boundary).
    static void from_json(const json& j, lxm::apitypes::Timestamp& t);
};
}  // namespace nlohmann
