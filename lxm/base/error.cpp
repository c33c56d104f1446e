#include "lxm/base/error.hpp"

namespace lxm::base {

std::string Error::message() const {
    std::string m = context;
    if (code) {
        if (!m.empty()) m += ": ";
        m += code.message();
    }
    return m;
}

Unexpected errno_error(std::string context, int err) {
    return std::unexpected(Error{std::error_code(err, std::system_category()), std::move(context)});
}

Unexpected make_error(std::errc code, std::string context) {
    return std::unexpected(Error{std::make_error_code(code), std::move(context)});
}

Error wrap(Error e, std::string_view outer) {
    std::string ctx(outer);
    if (!e.context.empty()) {
        ctx += ": ";
        ctx += e.context;
    }
    e.context = std::move(ctx);
    return e;
}

}  // namespace lxm::base
