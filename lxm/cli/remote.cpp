// Remotes (lxm remote add/list/remove/switch/get-default/rename) and the trust store of a
// server (lxm config trust list/add/remove), as lxc does them (LXD-API.md §2.5).
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "lxm/apitypes/certificate.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/file.hpp"
#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"
#include "lxm/cli/yaml.hpp"

namespace lxm::cli {

std::string config_dir() {
    if (const char* c = std::getenv("LXM_CONF"); c && *c) return c;
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/lxm";
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/root") + "/.config/lxm";
}

base::Result<RemoteConfig> RemoteConfig::load() {
    RemoteConfig rc;
    rc.dir = config_dir();
    std::string path = rc.dir + "/config.yml";
    if (!base::path_exists(path)) return rc;
    LXM_TRY(auto text, base::read_file(path, 1 << 20));
    auto j = parse_yaml(text);
    if (!j || !j->is_object()) return user_error("cannot read " + path + ": not a YAML mapping");
    if (auto it = j->find("default-remote"); it != j->end() && it->is_string()) rc.default_remote = it->get<std::string>();
    if (auto it = j->find("remotes"); it != j->end() && it->is_object()) {
        for (const auto& [name, r] : it->items()) {
            if (name == "local") continue;
            if (r.is_object() && r.contains("addr") && r["addr"].is_string()) rc.remotes[name] = r["addr"].get<std::string>();
        }
    }
    if (!rc.has(rc.default_remote)) rc.default_remote = "local";
    return rc;
}

base::Result<void> RemoteConfig::save() const {
    LXM_TRY_VOID(base::mkdir_p(dir, 0700));
    json j{{"default-remote", default_remote}, {"remotes", json::object()}};
    j["remotes"]["local"] = {{"addr", "unix://"}, {"protocol", "lxd"}, {"public", false}};
    for (const auto& [name, addr] : remotes) j["remotes"][name] = {{"addr", addr}, {"protocol", "lxd"}, {"public", false}};
    return base::write_file_atomic(dir + "/config.yml", to_yaml(j), 0600);
}

base::Result<base::CertKey> RemoteConfig::client_identity() const {
    LXM_TRY_VOID(base::mkdir_p(dir, 0700));
    base::CertOptions opts;
    const char* user = std::getenv("USER");
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    opts.common_name = std::string(user && *user ? user : "root") + "@" + host;
    opts.dns_names = {host[0] ? host : "localhost"};
    return base::load_or_create_cert(dir + "/client.crt", dir + "/client.key", opts);
}

namespace {

std::string https_url(std::string addr) {
    if (addr.starts_with("https://")) addr = addr.substr(8);
    while (!addr.empty() && addr.back() == '/') addr.pop_back();
    // Default port as LXD.
    bool has_port = addr.starts_with("[") ? addr.find("]:") != std::string::npos
                                          : std::count(addr.begin(), addr.end(), ':') == 1;
    if (!has_port) addr = (addr.find(':') != std::string::npos && !addr.starts_with("[") ? "[" + addr + "]" : addr) + ":8443";
    return "https://" + addr;
}

std::string read_secret(const std::string& prompt) {
    std::string line;
    if (::isatty(0)) {
        std::fprintf(stderr, "%s", prompt.c_str());
        termios old{};
        ::tcgetattr(0, &old);
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(0, TCSANOW, &quiet);
        std::getline(std::cin, line);
        ::tcsetattr(0, TCSANOW, &old);
        std::fprintf(stderr, "\n");
    } else {
        std::getline(std::cin, line);
    }
    return line;
}

struct AddOpts {
    std::string name, addr, token;
    bool password = false, accept = false;
};

base::Result<int> remote_add(Context& ctx, const AddOpts& o) {
    LXM_TRY(auto* rc, ctx.remotes());
    if (o.name.empty() || o.name.find(':') != std::string::npos || o.name.find('/') != std::string::npos)
        return user_error("invalid remote name \"" + o.name + "\"");
    if (rc->has(o.name)) return user_error("Remote " + o.name + " exists as <" + (o.name == "local" ? "unix://" : rc->remotes[o.name]) + ">");
    std::string token = o.token;
    std::vector<std::string> candidates;
    std::optional<apitypes::CertificateAddToken> tok;
    // `lxm remote add NAME TOKEN` works too (as lxc): an address that decodes as a token is one.
    if (token.empty() && !o.addr.empty())
        if (auto t = apitypes::decode_add_token(o.addr)) token = o.addr;
    if (!token.empty()) {
        auto t = apitypes::decode_add_token(token);
        if (!t) return user_error("invalid token: " + t.error().context);
        tok = *t;
        if (!o.addr.empty() && o.addr != token) candidates.push_back(o.addr);
        for (const auto& a : t->addresses) candidates.push_back(a);
        if (candidates.empty()) return user_error("the token names no address: give the server's address");
    } else {
        if (o.addr.empty()) return user_error("an address (or a token) is required");
        candidates.push_back(o.addr);
    }
    LXM_TRY(auto id, rc->client_identity());

    // First contact: fetch the server certificate (pinned by the token when there is one).
    std::optional<client::Client> c;
    std::string url, last_error;
    for (const auto& a : candidates) {
        url = https_url(a);
        client::Client::TlsConfig tc{url, id.cert_pem, id.key_pem, tok ? tok->fingerprint : ""};
        auto r = client::Client::connect_tls(tc);
        if (r) {
            c.emplace(std::move(*r));
            break;
        }
        last_error = url + ": " + apitypes::user_message(r.error());
    }
    if (!c) return user_error("cannot reach the server: " + last_error);
    std::string pem = c->server_certificate();
    LXM_TRY(auto fp, base::cert_fingerprint(pem));
    if (!tok) {
        print(ctx.err, "Certificate fingerprint: " + fp + "\n");
        if (!o.accept) {
            if (!::isatty(0)) return user_error("not accepting the certificate without --accept-certificate (no terminal)");
            std::fprintf(stderr, "ok (y/n)? ");
            std::string answer;
            std::getline(std::cin, answer);
            if (answer.empty() || (answer[0] != 'y' && answer[0] != 'Y')) return user_error("Server certificate NACKed by user");
        }
    }
    // From here on the pin holds for every connection.
    client::Client::TlsConfig pinned{url, id.cert_pem, id.key_pem, fp};
    LXM_TRY(auto cl, client::Client::connect_tls(pinned));
    LXM_TRY(auto info, cl.server_info());
    if (info.auth != "trusted") {
        std::string secret = token;
        if (secret.empty() && o.password) secret = read_secret("Admin password (or token) for " + o.name + ": ");
        if (secret.empty()) return user_error("the server does not trust this client: use --token or --password");
        json body{{"type", tok ? "" : "client"}, {"password", secret}, {"certificate", ""}, {"name", ""}};
        auto r = cl.post("/1.0/certificates", body);
        if (!r) return user_error("the server refused to add this client: " + apitypes::user_message(r.error()));
        LXM_TRY(info, cl.server_info());
        if (info.auth != "trusted") return user_error("Server doesn't trust us after authentication");
    }
    LXM_TRY_VOID(base::mkdir_p(rc->dir + "/servercerts", 0700));
    LXM_TRY_VOID(base::write_file_atomic(rc->server_cert_path(o.name), pem, 0644));
    rc->remotes[o.name] = url;
    LXM_TRY_VOID(rc->save());
    if (!tok) return 0;
    print(ctx.err, "Added remote " + o.name + " at " + url + " (certificate " + fp.substr(0, 12) + " pinned from the token)\n");
    return 0;
}

void add_trust_commands(CLI::App* config, Context& ctx, Action& chosen) {
    auto* trust = config->add_subcommand("trust", "Manage trusted client certificates");
    trust->require_subcommand(1);
    {
        auto* sub = trust->add_subcommand("list", "List trusted certificates");
        auto remote = std::make_shared<std::string>();
        sub->add_option("remote", *remote, "REMOTE: (default: the current remote)");
        on_run(sub, chosen, [&ctx, remote]() -> base::Result<int> {
            std::string r = *remote;
            if (!r.empty()) {
                if (r.back() != ':') r += ':';
                LXM_TRY_VOID(ctx.take_remote(r));
            }
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY(auto certs, c->get("/1.0/certificates?recursion=1"));
            std::vector<Row> rows;
            for (const auto& cj : certs) {
                auto cert = apitypes::parse_as<apitypes::Certificate>(cj);
                if (!cert) continue;
                rows.push_back({cert->type, cert->name, base::cert_common_name(cert->certificate).value_or(""),
                                cert->fingerprint.substr(0, 12)});
            }
            print(ctx.out, render_table({"TYPE", "NAME", "COMMON NAME", "FINGERPRINT"}, rows));
            return 0;
        });
    }
    {
        auto* sub = trust->add_subcommand("add", "Add a certificate file, or print a join token (--name)");
        auto file = std::make_shared<std::string>();
        auto name = std::make_shared<std::string>();
        sub->add_option("cert", *file, "[REMOTE:]FILE.crt (PEM); without it a token is issued");
        sub->add_option("--name", *name, "Client name (token: required)");
        on_run(sub, chosen, [&ctx, file, name]() -> base::Result<int> {
            std::string f = *file;
            LXM_TRY_VOID(ctx.take_remote(f));
            LXM_TRY(auto* c, ctx.client());
            if (f.empty()) {
                if (name->empty()) return user_error("a token needs a client name: --name NAME");
                LXM_TRY(auto r, c->post("/1.0/certificates", json{{"name", *name}, {"type", "client"}, {"token", true}}));
                const json& md = r.metadata.is_object() && r.metadata.contains("metadata") ? r.metadata["metadata"] : json();
                apitypes::CertificateAddToken t;
                t.client_name = *name;
                t.secret = md.value("secret", "");
                t.fingerprint = md.value("fingerprint", "");
                if (md.contains("addresses") && md["addresses"].is_array()) t.addresses = md["addresses"].get<std::vector<std::string>>();
                if (md.contains("expiresAt") && md["expiresAt"].is_string())
                    if (auto ts = apitypes::parse_rfc3339(md["expiresAt"].get<std::string>())) t.expires_at = *ts;
                if (t.secret.empty()) return user_error("the server answered without a token");
                print(ctx.out, "Client " + *name + " certificate add token:\n" + apitypes::encode_add_token(t) + "\n");
                return 0;
            }
            LXM_TRY(auto pem, base::read_file(f, 1 << 20));
            LXM_TRY(auto der, base::pem_to_der(pem));
            json body{{"type", "client"}, {"certificate", base::base64_encode(der)}};
            if (!name->empty()) body["name"] = *name;
            LXM_TRY_VOID(c->post("/1.0/certificates", body));
            return 0;
        });
    }
    {
        auto* sub = trust->add_subcommand("remove", "Remove a trusted certificate");
        auto fp = std::make_shared<std::string>();
        sub->add_option("fingerprint", *fp, "[REMOTE:]FINGERPRINT (a unique prefix is enough)")->required();
        on_run(sub, chosen, [&ctx, fp]() -> base::Result<int> {
            std::string f = *fp;
            LXM_TRY_VOID(ctx.take_remote(f));
            LXM_TRY(auto* c, ctx.client());
            LXM_TRY_VOID(c->del("/1.0/certificates/" + url_escape(f)));
            return 0;
        });
    }
}

}  // namespace

void add_remote_commands(CLI::App& app, Context& ctx, Action& chosen) {
    auto* remote = app.add_subcommand("remote", "Manage the list of remote servers");
    remote->require_subcommand(1);
    {
        auto* sub = remote->add_subcommand("add", "Add a remote server (HTTPS, trust by token or password)");
        auto o = std::make_shared<AddOpts>();
        sub->add_option("name", o->name, "Remote name")->required();
        sub->add_option("addr", o->addr, "Address (host[:port], https://host:port) or a token");
        sub->add_option("--token", o->token, "Join token from `lxm config trust add --name ...`");
        sub->add_flag("--password", o->password, "Ask for the server's trust password (read from stdin)");
        sub->add_flag("--accept-certificate", o->accept, "Accept the server certificate without asking");
        on_run(sub, chosen, [&ctx, o]() { return remote_add(ctx, *o); });
    }
    {
        auto* sub = remote->add_subcommand("list", "List remotes");
        on_run(sub, chosen, [&ctx]() -> base::Result<int> {
            LXM_TRY(auto* rc, ctx.remotes());
            std::vector<Row> rows;
            auto mark = [&](const std::string& n) { return n == rc->default_remote ? n + " (current)" : n; };
            rows.push_back({mark("local"), "unix://", "lxd", "NO"});
            for (const auto& [n, a] : rc->remotes) rows.push_back({mark(n), a, "lxd", "NO"});
            print(ctx.out, render_table({"NAME", "URL", "PROTOCOL", "PUBLIC"}, rows));
            return 0;
        });
    }
    {
        auto* sub = remote->add_subcommand("remove", "Remove a remote");
        auto name = std::make_shared<std::string>();
        sub->add_option("name", *name, "Remote")->required();
        on_run(sub, chosen, [&ctx, name]() -> base::Result<int> {
            LXM_TRY(auto* rc, ctx.remotes());
            if (*name == "local") return user_error("Remote local is static and cannot be modified");
            if (!rc->remotes.contains(*name)) return user_error("The remote \"" + *name + "\" doesn't exist");
            if (rc->default_remote == *name) return user_error("Can't remove the default remote");
            rc->remotes.erase(*name);
            ::unlink(rc->server_cert_path(*name).c_str());
            LXM_TRY_VOID(rc->save());
            return 0;
        });
    }
    {
        auto* sub = remote->add_subcommand("switch", "Make a remote the default");
        auto name = std::make_shared<std::string>();
        sub->add_option("name", *name, "Remote")->required();
        on_run(sub, chosen, [&ctx, name]() -> base::Result<int> {
            LXM_TRY(auto* rc, ctx.remotes());
            if (!rc->has(*name)) return user_error("The remote \"" + *name + "\" doesn't exist");
            rc->default_remote = *name;
            LXM_TRY_VOID(rc->save());
            return 0;
        });
    }
    {
        auto* sub = remote->add_subcommand("get-default", "Show the default remote");
        on_run(sub, chosen, [&ctx]() -> base::Result<int> {
            LXM_TRY(auto* rc, ctx.remotes());
            print(ctx.out, rc->default_remote + "\n");
            return 0;
        });
    }
    {
        auto* sub = remote->add_subcommand("rename", "Rename a remote");
        auto names = std::make_shared<std::pair<std::string, std::string>>();
        sub->add_option("old", names->first, "Remote")->required();
        sub->add_option("new", names->second, "New name")->required();
        on_run(sub, chosen, [&ctx, names]() -> base::Result<int> {
            LXM_TRY(auto* rc, ctx.remotes());
            auto& [from, to] = *names;
            if (from == "local") return user_error("Remote local is static and cannot be modified");
            if (!rc->remotes.contains(from)) return user_error("The remote \"" + from + "\" doesn't exist");
            if (rc->has(to) || to.find(':') != std::string::npos || to.find('/') != std::string::npos || to.empty())
                return user_error("Remote " + to + " already exists or is not a valid name");
            rc->remotes[to] = rc->remotes[from];
            rc->remotes.erase(from);
            ::rename(rc->server_cert_path(from).c_str(), rc->server_cert_path(to).c_str());
            if (rc->default_remote == from) rc->default_remote = to;
            LXM_TRY_VOID(rc->save());
            return 0;
        });
    }
    for (auto* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "config"; }))
        add_trust_commands(sub, ctx, chosen);
}

CLI::Validator remote_arg(Context& ctx) {
    return CLI::Validator(
        [&ctx](std::string& value) -> std::string {
            auto r = ctx.take_remote(value);
            return r ? std::string() : error_text(r.error());
        },
        "", "remote");
}

}  // namespace lxm::cli
