// The LXD status code table (lxd:shared/api/status_code.go): operations,
// instances and envelopes carry both a code and its text.
#pragma once

#include <optional>
#include <string_view>

namespace lxm::apitypes {

enum class StatusCode : int {
    created = 100,
    started = 101,
    stopped = 102,
    running = 103,
    cancelling = 104,
    pending = 105,
    starting = 106,
    stopping = 107,
    aborting = 108,
    freezing = 109,
    frozen = 110,
    thawed = 111,
    error = 112,
    ready = 113,
    success = 200,
    failure = 400,
    cancelled = 401,
};

// "Created", "Running", "Success", ... ("" for a value outside the table).
std::string_view status_text(StatusCode code);
// Inverse of status_text.
std::optional<StatusCode> status_from_text(std::string_view text);
// Success, Failure and Cancelled end an operation.
bool is_final(StatusCode code);

}  // namespace lxm::apitypes
