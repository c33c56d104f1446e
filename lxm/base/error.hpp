// Error and Result: the one error convention of lxm.
// Expected failures travel as values (Result<T>); exceptions are only for bugs
// and at the boundary with throwing libraries.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <system_error>
#include <utility>

namespace lxm::base {

struct Error {
    std::error_code code;
    std::string context;  // what was being done, e.g. "mount proc on /proc"

    // "context: message" — the text shown to users and logs.
    std::string message() const;
};

template <typename T = void>
using Result = std::expected<T, Error>;

using Unexpected = std::unexpected<Error>;

// Error from errno (or an explicit errno value).
Unexpected errno_error(std::string context, int err = errno);
// Error with a generic category code and a text.
Unexpected make_error(std::errc code, std::string context);

// Prefix more context onto an existing error: "outer: inner".
Error wrap(Error e, std::string_view outer);

template <typename T>
Result<T> wrap(Result<T> r, std::string_view outer) {
    if (!r) return std::unexpected(wrap(std::move(r.error()), outer));
    return r;
}

}  // namespace lxm::base

// Propagate an error: LXM_TRY(auto x, expr); or LXM_TRY_VOID(expr);
#define LXM_CONCAT_INNER(a, b) a##b
#define LXM_CONCAT(a, b) LXM_CONCAT_INNER(a, b)
#define LXM_TRY_IMPL(tmp, decl, expr)                                  \
    auto tmp = (expr);                                                 \
    if (!tmp) return std::unexpected(std::move(tmp).error());          \
    decl = std::move(*tmp)
#define LXM_TRY(decl, expr) LXM_TRY_IMPL(LXM_CONCAT(lxm_try_, __LINE__), decl, expr)
#define LXM_TRY_VOID(expr)                                                        \
    do {                                                                          \
        auto lxm_try_v = (expr);                                                  \
        if (!lxm_try_v) return std::unexpected(std::move(lxm_try_v).error());     \
    } while (0)
