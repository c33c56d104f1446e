#include "lxm/cli/context.hpp"

#include <cstdlib>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/file.hpp"

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

base::Result<RemoteConfig*> Context::remotes() {
    if (!config_) {
        LXM_TRY(auto c, RemoteConfig::load());
        config_.emplace(std::move(c));
    }
    return &*config_;
}

std::string Context::remote() {
    if (!selected_.empty()) return selected_;
    auto rc = remotes();
    return rc ? (*rc)->default_remote : std::string("local");
}

base::Result<void> Context::take_remote(std::string& arg) {
    auto colon = arg.find(':');
    if (colon == std::string::npos) return {};
    std::string name = arg.substr(0, colon);
    if (name.find('/') != std::string::npos) return {};
    LXM_TRY(auto* rc, remotes());
    if (name.empty()) name = rc->default_remote;
    if (!rc->has(name)) return user_error("The remote \"" + name + "\" doesn't exist");
    if (!selected_.empty() && selected_ != name)
        return user_error("one command cannot use two remotes (\"" + selected_ + "\" and \"" + name + "\")");
    selected_ = name;
    arg = arg.substr(colon + 1);
    return {};
}

base::Result<client::Client*> Context::client() {
    std::string name = remote();
    if (auto it = clients_.find(name); it != clients_.end()) return &it->second;
    if (name == "local") {
        auto c = client::Client::connect_unix(socket_);
        if (!c)
            return user_error("cannot connect to lxmd at " + socket_ + ": " + c.error().code.message() +
                              " (is lxmd running? LXM_DIR selects its state directory)");
        return &clients_.emplace(name, std::move(*c)).first->second;
    }
    LXM_TRY(auto* rc, remotes());
    auto it = rc->remotes.find(name);
    if (it == rc->remotes.end()) return user_error("The remote \"" + name + "\" doesn't exist");
    LXM_TRY(auto id, rc->client_identity());
    auto pem = base::read_file(rc->server_cert_path(name), 1 << 20);
    if (!pem) return user_error("no pinned certificate for remote \"" + name + "\" (" + rc->server_cert_path(name) + ")");
    LXM_TRY(auto fp, base::cert_fingerprint(*pem));
    client::Client::TlsConfig tc{it->second, id.cert_pem, id.key_pem, fp};
    auto c = client::Client::connect_tls(tc);
    if (!c) return user_error("cannot connect to remote \"" + name + "\" at " + it->second + ": " + apitypes::user_message(c.error()));
    return &clients_.emplace(name, std::move(*c)).first->second;
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
    // Wait in steps of a second so that progress the server reports (an image being
    // built or unpacked, a publish packing) is shown on stderr as it changes.
    std::string shown;
    auto show = [&](const apitypes::Operation& o) {
        if (!o.metadata.is_object()) return;
        for (const char* k : {"download_progress", "progress"}) {
            auto it = o.metadata.find(k);
            if (it == o.metadata.end() || !it->is_string()) continue;
            std::string text = it->get<std::string>();
            if (text != shown && !text.empty()) {
                print(err, text + "\n");
                shown = text;
            }
        }
    };
    LXM_TRY(auto o, c->wait_operation(op, 1));
    show(o);
    while (!apitypes::is_final(o.status_code)) {
        auto again = c->wait_operation(op, 1);
        if (!again) return std::unexpected(again.error());
        o = std::move(*again);
        show(o);
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
