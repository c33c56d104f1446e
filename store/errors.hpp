// The error vocabulary of the repositories: callers (core, the API error
// table) test codes, not SQLite details.
//   std::errc::no_such_file_or_directory  the named object does not exist
//   std::errc::file_exists                an object with that name already exists
//   std::errc::device_or_resource_busy    still used by something (profile in use), or SQLITE_BUSY
//   std::errc::not_supported              database schema newer than this code
#pragma once

#include <string>
#include <system_error>

#include "lxm/base/error.hpp"

namespace lxm::store {

// An error of a repository's get/find that means "no such object".
inline bool is_not_found(const base::Error& e) { return e.code == std::errc::no_such_file_or_directory; }

inline base::Unexpected not_found(const std::string& what) {
    return base::make_error(std::errc::no_such_file_or_directory, what + " not found");
}

inline base::Unexpected already_exists(const std::string& what) {
    return base::make_error(std::errc::file_exists, what + " already exists");
}

// A UNIQUE/PRIMARY KEY violation becomes a plain "<what> already exists";
// anything else keeps its code and gains "<doing>: " in front.
inline base::Error on_write_error(base::Error e, const std::string& what, std::string_view doing) {
    if (e.code == std::errc::file_exists) return base::Error{std::make_error_code(std::errc::file_exists), what + " already exists"};
    return base::wrap(std::move(e), doing);
}

}  // namespace lxm::store
