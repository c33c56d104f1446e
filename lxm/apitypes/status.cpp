#include "lxm/apitypes/status.hpp"

#include <array>
#include <utility>

namespace lxm::apitypes {
namespace {
constexpr std::array<std::pair<StatusCode, std::string_view>, 17> kTable{{
    {StatusCode::created, "Created"},
    {StatusCode::started, "Started"},
    {StatusCode::stopped, "Stopped"},
    {StatusCode::running, "Running"},
    {StatusCode::cancelling, "Cancelling"},
    {StatusCode::pending, "Pending"},
    {StatusCode::starting, "Starting"},
    {StatusCode::stopping, "Stopping"},
    {StatusCode::aborting, "Aborting"},
    {StatusCode::freezing, "Freezing"},
    {StatusCode::frozen, "Frozen"},
    {StatusCode::thawed, "Thawed"},
    {StatusCode::error, "Error"},
    {StatusCode::ready, "Ready"},
    {StatusCode::success, "Success"},
    {StatusCode::failure, "Failure"},
    {StatusCode::cancelled, "Cancelled"},
}};
}  // namespace

std::string_view status_text(StatusCode code) {
    for (auto& [c, t] : kTable)
        if (c == code) return t;
    return {};
}

std::optional<StatusCode> status_from_text(std::string_view text) {
    for (auto& [c, t] : kTable)
        if (t == text) return c;
    return std::nullopt;
}

bool is_final(StatusCode code) {
    return code == StatusCode::success || code == StatusCode::failure || code == StatusCode::cancelled;
}

}  // namespace lxm::apitypes
