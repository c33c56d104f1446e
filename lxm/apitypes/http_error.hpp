// HTTP status codes as std::error_code, shared by daemon and client.
//
// Daemon: a handler that wants a precise status returns http_error(409, "Instance \"c1\" already exists").
// Any other Error is mapped by http_status_for() (errno → HTTP table below).
// Client: an error envelope from the server becomes Error{make_http_code(error_code), <server's text>},
// so callers test `e.code == make_http_code(404)` or `http_status_of(e) == 404`.
#pragma once

#include <string>
#include <system_error>

#include "lxm/base/error.hpp"

namespace lxm::apitypes {

const std::error_category& http_category();
std::error_code make_http_code(int status);
base::Unexpected http_error(int status, std::string message);

// The one error → HTTP table (cf. lxd:lxd/response/smart.go plus api.StatusErrorf uses):
//   http_category        → its own value
//   ENOENT               → 404        EEXIST           → 409
//   EINVAL, EBUSY        → 400        EACCES, EPERM    → 403
//   ENOTSUP/EOPNOTSUPP, ENOSYS → 501  ETIMEDOUT        → 504
//   ECANCELED            → 400 (LXD answers cancelled work with a client error)
//   anything else        → 500
// EBUSY is 400 because LXD reports "instance is running"-style conflicts with StatusBadRequest.
int http_status_for(const base::Error& e);
// The HTTP status an error carries if it came from the http category, else 0.
int http_status_of(const base::Error& e);
// Text for users: the server's message alone for http errors, else Error::message().
std::string user_message(const base::Error& e);
// "Not Found", "Conflict", ...
std::string http_reason(int status);

}  // namespace lxm::apitypes
