#include "lxm/apitypes/http_error.hpp"

#include <cerrno>

namespace lxm::apitypes {
namespace {
class HttpCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "http"; }
    std::string message(int status) const override { return http_reason(status); }
};
}  // namespace

std::string http_reason(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 412: return "Precondition Failed";
        case 413: return "Request Entity Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "HTTP " + std::to_string(status);
    }
}

const std::error_category& http_category() {
    static const HttpCategory cat;
    return cat;
}

std::error_code make_http_code(int status) { return {status, http_category()}; }

base::Unexpected http_error(int status, std::string message) {
    return std::unexpected(base::Error{make_http_code(status), std::move(message)});
}

int http_status_of(const base::Error& e) { return e.code.category() == http_category() ? e.code.value() : 0; }

int http_status_for(const base::Error& e) {
    if (int s = http_status_of(e)) return s;
    const auto& c = e.code;
    if (c.category() != std::generic_category() && c.category() != std::system_category()) return 500;
    switch (c.value()) {
        case ENOENT: return 404;
        case EEXIST: return 409;
        case EINVAL:
        case EBUSY:
        case ECANCELED: return 400;
        case EACCES:
        case EPERM: return 403;
        case ENOTSUP:
        case ENOSYS: return 501;
        case ETIMEDOUT: return 504;
        default: return 500;
    }
}

std::string user_message(const base::Error& e) {
    if (http_status_of(e) && !e.context.empty()) return e.context;
    return e.message();
}

}  // namespace lxm::apitypes
