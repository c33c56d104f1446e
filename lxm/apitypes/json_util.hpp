// Helpers for the wire structs' from_json: LXD clients send partial bodies and
// explicit nulls ("profiles": null), so a missing or null field keeps its default.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"

namespace lxm::apitypes {

using json = nlohmann::json;

namespace detail {

inline void require_object(const json& j, const char* what) {
    if (!j.is_object()) throw json::type_error::create(302, std::string(what) + " must be a JSON object", &j);
}

// Set out from j[key] if the key is present and not null; throws json::exception on a type mismatch.
template <typename T>
void read(const json& j, const char* key, T& out) {
    auto it = j.find(key);
    if (it != j.end() && !it->is_null()) it->get_to(out);
}

}  // namespace detail

// Convert JSON to a wire struct without exceptions: a type mismatch becomes
// errc::invalid_argument with nlohmann's explanation (the API answers it with 400).
template <typename T>
base::Result<T> parse_as(const json& j) {
    try {
        return j.get<T>();
    } catch (const json::exception& e) {
        return base::make_error(std::errc::invalid_argument, std::string("invalid request body: ") + e.what());
    }
}

}  // namespace lxm::apitypes
