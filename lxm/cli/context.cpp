#include "lxm/cli/context.hpp"

#include <cstdlib>

#include "lxm/apitypes/http_error.hpp"

namespace lxm::cli {

namespace {
class CliCategory : public std::error_category {
public:
    const char* name() const noexcept override { return "lxm-cli"; }
    std::string message(int) const override { return "error"; }
};
const CliCategory& cli_category() {
    static CliCategory c;
    return c;
}
}  // namespace

std::string socket_path() {
    const char* dir = std::getenv("LXM_DIR");
    std::string d = dir && *dir ? dir : "/var/lib/lxm";
    return d + "/unix.socket";
}

base::Unexpected user_error(std::string message) {
    return std::unexpected(base::Error{std::error_code(1, cli_category()), std::move(message)});
}

std::string error_text(const base::Error& e) {
    if (e.code.category() == cli_category()) return e.context;
    return apitypes::user_message(e);
}

std::string url_escape(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string instance_url(std::string_view name) {
    auto slash = name.find('/');
    if (slash == std::string_view::npos) return "/1.0/instances/" + url_escape(name);
    return "/1.0/instances/" + url_escape(name.substr(0, slash)) + "/snapshots/" +
           url_escape(name.substr(slash + 1));
}

base::Result<client::Client*> Context::client() {
    if (!client_) {
        auto c = client::Client::connect_unix(socket_);
        if (!c)
            return user_error("cannot connect to lxmd at " + socket_ + ": " + c.error().code.message() +
                              " (is lxmd running? LXM_DIR selects its state directory)");
        client_.emplace(std::move(*c));
    }
    return &*client_;
}

base::Result<apitypes::Operation> Context::wait(const client::Response& r) {
    if (r.type != "async") {
        apitypes::Operation done;
        done.status = "Success";
        done.status_code = apitypes::StatusCode::success;
        done.metadata = r.metadata;
        return done;
    }
    std::string op = r.operation;
    if (op.empty() && r.metadata.is_object()) op = r.metadata.value("id", "");
    if (op.empty()) return user_error("server answered async without an operation");
    LXM_TRY(auto* c, client());
    LXM_TRY(auto o, c->wait_operation(op, -1));
    while (!apitypes::is_final(o.status_code)) {
        auto again = c->wait_operation(op, -1);
        if (!again) return std::unexpected(again.error());
        o = std::move(*again);
    }
    if (o.status_code == apitypes::StatusCode::failure || o.status_code == apitypes::StatusCode::cancelled)
        return user_error(o.err.empty() ? o.status : o.err);
    if (o.status_code != apitypes::StatusCode::success)
        return user_error("operation " + o.id + " ended in state " + o.status);
    return o;
}

base::Result<apitypes::Operation> Context::run(std::string_view method, std::string_view path, const json& body) {
    LXM_TRY(auto* c, client());
    LXM_TRY(auto r, c->query(method, path, body));
    return wait(r);
}

void print(std::FILE* f, std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), f);
}

}  // namespace lxm::cli
