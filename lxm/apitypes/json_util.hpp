// Helpers for the wire structs' from_json: LXD clients send partial bodies and
// explicit nulls ("profiles": null), so a missing or null field keeps its default.
#pragma once

#include <string>
#include <tuple>

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

// One JSON key bound to one member: a struct's wire fields are listed once
// and serve both directions (write_fields / read_fields).
template <typename T, typename M>
struct Field {
    const char* key;
    M T::*member;
};
template <typename T, typename M>
constexpr Field<T, M> field(const char* key, M T::*member) {
    return {key, member};
}

// j becomes an object holding every listed field of v.
template <typename T, typename... F>
void write_fields(json& j, const T& v, const std::tuple<F...>& fields) {
    j = json::object();
    std::apply([&](const auto&... f) { ((j[f.key] = v.*(f.member)), ...); }, fields);
}

// j must be an object (named what in the error); each listed field present and not null is read.
template <typename T, typename... F>
void read_fields(const json& j, T& v, const std::tuple<F...>& fields, const char* what) {
    require_object(j, what);
    std::apply([&](const auto&... f) { (read(j, f.key, v.*(f.member)), ...); }, fields);
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
