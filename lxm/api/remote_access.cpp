#include "lxm/api/remote_access.hpp"

#include <unistd.h>

#include <charconv>
#include <limits>

#include "lxm/apitypes/certificate.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/time.hpp"
#include "lxm/base/log.hpp"
#include "store/server_config.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {
constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::max();

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string host_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || !host[0]) return "localhost";
    return host;
}

std::string config_value(const store::ConfigMap& c, std::string_view key) {
    auto it = c.find(std::string(key));
    return it == c.end() ? std::string() : it->second;
}
}  // namespace

Result<std::optional<std::chrono::seconds>> parse_expiry(std::string_view text) {
    std::chrono::seconds total{0};
    bool any = false;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] == ' ') {
            ++i;
            continue;
        }
        int64_t n = 0;
        auto [p, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
        if (ec != std::errc() || n < 0 || p == text.data() + text.size())
            return http_error(400, "invalid expiry \"" + std::string(text.substr(0, 40)) + "\"");
        char unit = *p;
        int64_t mult = 0;
        switch (unit) {
            case 'S': mult = 1; break;
            case 'M': mult = 60; break;
            case 'H': mult = 3600; break;
            case 'd': mult = 86400; break;
            case 'w': mult = 7 * 86400; break;
            case 'm': mult = 30 * 86400; break;
            case 'y': mult = 365 * 86400; break;
            default: return http_error(400, "invalid expiry unit in \"" + std::string(text.substr(0, 40)) + "\"");
        }
        if (n > std::numeric_limits<int64_t>::max() / mult / 4) return http_error(400, "expiry too large");
        total += std::chrono::seconds(n * mult);
        any = true;
        i = static_cast<size_t>(p - text.data()) + 1;
    }
    if (!any) return std::optional<std::chrono::seconds>{};
    return std::optional<std::chrono::seconds>{total};
}

RemoteAccess::RemoteAccess(core::DaemonState& st) : st_(st) {}
RemoteAccess::~RemoteAccess() = default;

Result<void> RemoteAccess::init() {
    const std::string dir = st_.paths().root;
    base::CertOptions opts;
    std::string host = host_name();
    opts.common_name = "root@" + host;
    opts.dns_names = {host, "localhost"};
    opts.ip_addresses = {"127.0.0.1", "::1"};
    LXM_TRY(identity_, base::load_or_create_cert(dir + "/server.crt", dir + "/server.key", opts));
    LXM_TRY(fingerprint_, base::cert_fingerprint(identity_.cert_pem));
    LXM_TRY_VOID(reload_trust());
    (void)st_.store().write([](store::Transaction& tx) { return store::prune_expired_tokens(tx, now_ns()); });
    return {};
}

void RemoteAccess::attach(Api& api) { api_ = &api; }

bool RemoteAccess::trusts(const Peer& p) const {
    if (p.kind == Peer::Kind::unix_socket || p.kind == Peer::Kind::internal) return true;
    if (p.cert_fingerprint.empty()) return false;
    std::lock_guard lk(mu_);
    return trusted_.contains(p.cert_fingerprint);
}

Result<void> RemoteAccess::reload_trust() {
    LXM_TRY(auto certs, st_.store().read([](store::Transaction& tx) { return store::list_certificates(tx); }));
    std::set<std::string> fps;
    for (const auto& c : certs)
        if (c.type == "client" || c.type == "server") fps.insert(c.fingerprint);
    std::lock_guard lk(mu_);
    trusted_ = std::move(fps);
    return {};
}

Result<void> RemoteAccess::start_listener() {
    LXM_TRY(auto cfg, st_.store().read([](store::Transaction& tx) { return store::get_server_config(tx); }));
    return set_https_address(config_value(cfg, kHttpsAddressKey));
}

Result<void> RemoteAccess::set_https_address(const std::string& address) {
    if (!api_) return base::make_error(std::errc::invalid_argument, "remote access not attached to the API");
    std::string old;
    {
        std::lock_guard lk(mu_);
        if (address == listen_spec_ && (!bound_.empty() || address.empty())) return {};
        old = listen_spec_;
    }
    api_->close_tls();
    {
        std::lock_guard lk(mu_);
        bound_.clear();
        listen_spec_.clear();
    }
    if (address.empty()) {
        LXM_INFO("https listener stopped");
        return {};
    }
    auto bound = api_->listen_tls(address, TlsIdentity{identity_.cert_pem, identity_.key_pem});
    if (!bound) {
        if (!old.empty()) {
            if (auto again = api_->listen_tls(old, TlsIdentity{identity_.cert_pem, identity_.key_pem})) {
                std::lock_guard lk(mu_);
                bound_ = *again;
                listen_spec_ = old;
            }
        }
        return http_error(400, "cannot listen on " + address + ": " + bound.error().message());
    }
    LXM_INFO("https listener on {} (certificate fingerprint {})", *bound, fingerprint_);
    std::lock_guard lk(mu_);
    bound_ = *bound;
    listen_spec_ = address;
    return {};
}

std::string RemoteAccess::bound_address() const {
    std::lock_guard lk(mu_);
    return bound_;
}

std::vector<std::string> RemoteAccess::addresses() const {
    std::string b = bound_address();
    if (b.empty()) return {};
    auto la = parse_listen_address(b);
    if (!la) return {};
    return reachable_addresses(*la);
}

ServerConfigHook RemoteAccess::config_hook() {
    ServerConfigHook h;
    h.owns = [](std::string_view k) { return k == kHttpsAddressKey || k == kTrustPasswordKey || k == kTokenExpiryKey; };
    h.prepare = [](const store::ConfigMap& cur, store::ConfigMap& next) -> Result<void> {
        if (auto it = next.find(std::string(kHttpsAddressKey)); it != next.end())
            LXM_TRY_VOID(parse_listen_address(it->second));
        if (auto it = next.find(std::string(kTokenExpiryKey)); it != next.end())
            LXM_TRY_VOID(parse_expiry(it->second));
        if (auto it = next.find(std::string(kTrustPasswordKey)); it != next.end()) {
            std::string old = config_value(cur, kTrustPasswordKey);
            if (it->second == old) {
                // unchanged hash (PATCH keeps it)
            } else if (it->second == "true" && !old.empty()) {
                it->second = old;  // the masked value sent back by a GET-modify-PUT client
            } else {
                LXM_TRY(it->second, base::password_hash(it->second));
            }
        }
        return {};
    };
    h.apply = [this](const store::ConfigMap& cur, const store::ConfigMap& next) -> Result<void> {
        std::string a = config_value(next, kHttpsAddressKey);
        if (a == config_value(cur, kHttpsAddressKey) && (a.empty() || !bound_address().empty())) return {};
        return set_https_address(a);
    };
    return h;
}

void RemoteAccess::track_token(const std::shared_ptr<Operation>& op, const std::string& secret_hash,
                               int64_t expires_at) {
    {
        std::lock_guard lk(mu_);
        for (auto it = token_ops_.begin(); it != token_ops_.end();)
            it = it->second.expired() ? token_ops_.erase(it) : std::next(it);
        token_ops_[secret_hash] = op;
    }
    if (expires_at != kNoExpiry) {
        auto delay = std::chrono::nanoseconds(std::max<int64_t>(0, expires_at - now_ns()));
        std::weak_ptr<Operation> weak = op;
        api_->executors().schedule(std::chrono::duration_cast<std::chrono::milliseconds>(delay) +
                                       std::chrono::milliseconds(1),
                                   [weak] {
                                       if (auto o = weak.lock()) o->finish(base::make_error(std::errc::timed_out,
                                                                                            "Token has expired"));
                                   });
    }
}

Result<std::shared_ptr<Operation>> RemoteAccess::issue_token(const std::string& client_name, const std::string& type) {
    if (client_name.empty()) return http_error(400, "A client name is required for a token");
    LXM_TRY(auto cfg, st_.store().read([](store::Transaction& tx) { return store::get_server_config(tx); }));
    LXM_TRY(auto expiry, parse_expiry(config_value(cfg, kTokenExpiryKey)));
    std::string secret = Operations::random_secret();
    store::TokenRecord rec;
    rec.name = client_name;
    rec.type = type.empty() ? "client" : type;
    rec.secret_hash = base::sha256_hex(secret);
    rec.created_at = now_ns();
    rec.expires_at = expiry ? rec.created_at + std::chrono::duration_cast<std::chrono::nanoseconds>(*expiry).count()
                            : kNoExpiry;
    LXM_TRY_VOID(st_.store().write([&](store::Transaction& tx) { return store::create_token(tx, rec); }));

    apitypes::CertificatesPost request;
    request.name = client_name;
    request.type = rec.type;
    request.token = true;
    json md{{"request", request}, {"secret", secret}, {"fingerprint", fingerprint_}, {"addresses", addresses()}};
    if (expiry) md["expiresAt"] = apitypes::format_rfc3339(apitypes::Timestamp(std::chrono::nanoseconds(rec.expires_at)));

    OperationSpec spec;
    spec.op_class = OperationClass::token;
    spec.description = "Generating certificate add token";
    spec.metadata = md;
    spec.may_cancel = true;
    spec.resources = {};
    auto& store = st_.store();
    spec.on_cancel = [&store, hash = rec.secret_hash] {
        (void)store.write([&](store::Transaction& tx) { return store::delete_token_by_hash(tx, hash); });
    };
    auto op = api_->operations().create(std::move(spec));
    if (!op) {
        (void)st_.store().write([&](store::Transaction& tx) { return store::delete_token_by_hash(tx, rec.secret_hash); });
        return std::unexpected(op.error());
    }
    track_token(*op, rec.secret_hash, rec.expires_at);
    return *op;
}

Result<store::TokenRecord> RemoteAccess::redeem_token(std::string_view token_text) {
    LXM_TRY(auto tok, apitypes::decode_add_token(token_text));
    std::string hash = base::sha256_hex(tok.secret);
    std::optional<base::Error> refused;
    LXM_TRY(auto rec, st_.store().write([&](store::Transaction& tx) -> Result<store::TokenRecord> {
        auto r = store::consume_token(tx, hash, now_ns());
        if (r) return r;
        // Committed even when refused: an expired token is deleted either way.
        refused = r.error();
        return store::TokenRecord{};
    }));
    std::shared_ptr<Operation> op;
    {
        std::lock_guard lk(mu_);
        if (auto it = token_ops_.find(hash); it != token_ops_.end()) {
            op = it->second.lock();
            token_ops_.erase(it);
        }
    }
    if (refused) {
        if (op) op->finish(base::make_error(std::errc::timed_out, "Token has expired"));
        if (refused->code == std::errc::timed_out) return http_error(403, "Certificate add token has expired");
        return http_error(403, "No matching certificate add operation found");
    }
    // Used: the token operation ends (successfully; the revoke hook does not run).
    if (op) op->finish({});
    return rec;
}

void RemoteAccess::relist_tokens() {
    auto toks = st_.store().read([](store::Transaction& tx) { return store::list_tokens(tx); });
    if (!toks) return;
    for (const auto& t : *toks) {
        apitypes::CertificatesPost request;
        request.name = t.name;
        request.type = t.type;
        request.token = true;
        json md{{"request", request}, {"secret", ""}, {"fingerprint", fingerprint_}, {"addresses", addresses()}};
        if (t.expires_at != kNoExpiry)
            md["expiresAt"] = apitypes::format_rfc3339(apitypes::Timestamp(std::chrono::nanoseconds(t.expires_at)));
        OperationSpec spec;
        spec.op_class = OperationClass::token;
        spec.description = "Generating certificate add token";
        spec.metadata = md;
        spec.may_cancel = true;
        auto& store = st_.store();
        spec.on_cancel = [&store, hash = t.secret_hash] {
            (void)store.write([&](store::Transaction& tx) { return store::delete_token_by_hash(tx, hash); });
        };
        if (auto op = api_->operations().create(std::move(spec))) track_token(*op, t.secret_hash, t.expires_at);
    }
}

}  // namespace lxm::api
