// RemoteAccess: lxmd's side of remote management over HTTPS (LXD-API.md §2.5).
//
//  - the server identity: <state>/server.crt (0644) and server.key (0600), EC P-384,
//    generated on first start; its fingerprint is what clients pin;
//  - the trust cache: fingerprints of the trusted client certificates (store/certificates),
//    consulted for every request (Server trust callback), reloaded on every change, so a
//    removed certificate loses access at once, also on open connections;
//  - core.https_address: the HTTPS listener, bound at start and re-bound/stopped when the
//    key changes (ServerConfigHook for PUT/PATCH /1.0);
//  - core.trust_password (stored as an scrypt hash, shown as "true" as LXD does) and
//    core.remote_token_expiry (LXD's expiry syntax: 30S, 10M, 1H, 2d, 1w);
//  - single-use add tokens: a row in store (hash of the secret) plus an operation of class
//    token listing it as LXD 5.0 does (metadata request/secret/fingerprint/addresses/expiresAt);
//    DELETE of the operation revokes it; the op ends when the token is used or expires.
//
//   core::DaemonState& st = ...;
//   api::RemoteAccess remote(st);
//   LXM_TRY_VOID(remote.init());                         // identity + trust cache
//   api::ApiOptions o; o.server.trust = [&](const api::Peer& p) { return remote.trusts(p); };
//   api::Api api(o);
//   remote.attach(api);                                  // before listening
//   ctx.config_hooks.push_back(remote.config_hook());    // DaemonRoutes
//   api::register_certificate_routes(api, remote);       // after register_daemon_routes
//   remote.start_listener();                             // core.https_address from the store
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lxm/api/api.hpp"
#include "lxm/api/daemon_routes.hpp"
#include "lxm/api/tls.hpp"
#include "lxm/base/x509.hpp"
#include "lxm/core/daemon_state.hpp"
#include "store/certificates.hpp"

namespace lxm::api {

inline constexpr std::string_view kHttpsAddressKey = "core.https_address";
inline constexpr std::string_view kTrustPasswordKey = "core.trust_password";
inline constexpr std::string_view kTokenExpiryKey = "core.remote_token_expiry";

// LXD's expiry syntax ("30S", "10M", "1H", "2d", "1w", "1m" (30 days), "1y"; several may be
// joined with spaces). "" → nullopt (no expiry). Bad text → http 400.
base::Result<std::optional<std::chrono::seconds>> parse_expiry(std::string_view text);

class RemoteAccess {
public:
    explicit RemoteAccess(core::DaemonState& st);
    ~RemoteAccess();
    RemoteAccess(const RemoteAccess&) = delete;
    RemoteAccess& operator=(const RemoteAccess&) = delete;

    // Server certificate (created on first start) and the trust cache.
    base::Result<void> init();
    void attach(Api& api);

    const base::CertKey& identity() const { return identity_; }
    const std::string& fingerprint() const { return fingerprint_; }

    // Unix-socket callers are trusted (socket mode/group decide, as in LXD); TLS callers
    // when their certificate's fingerprint is in the trust store (type client or server).
    bool trusts(const Peer& p) const;
    base::Result<void> reload_trust();

    // Listen on core.https_address as stored (nothing when unset). Logged, not fatal.
    base::Result<void> start_listener();
    // (Re)bind to address, "" stops. The old listener is closed first; if the new bind fails
    // the old address is bound again and the error returned.
    base::Result<void> set_https_address(const std::string& address);
    // "host:port" actually bound ("" when not listening) and the addresses clients can use.
    std::string bound_address() const;
    std::vector<std::string> addresses() const;

    // PUT/PATCH /1.0 plumbing for the keys above.
    ServerConfigHook config_hook();

    // Add tokens: a token operation (Running until used, revoked or expired).
    base::Result<std::shared_ptr<Operation>> issue_token(const std::string& client_name, const std::string& type);
    // Use a token (whole base64 text); the result names the client. 403 when unknown,
    // used or expired.
    base::Result<store::TokenRecord> redeem_token(std::string_view token_text);
    // Re-list tokens that survived a restart (their secret is not known any more: listed without it).
    void relist_tokens();

    core::DaemonState& state() { return st_; }
    Api& api() { return *api_; }

private:
    void track_token(const std::shared_ptr<Operation>& op, const std::string& secret_hash, int64_t expires_at);

    core::DaemonState& st_;
    Api* api_ = nullptr;
    base::CertKey identity_;
    std::string fingerprint_;

    mutable std::mutex mu_;
    std::set<std::string> trusted_;  // fingerprints
    std::string listen_spec_;        // core.https_address as configured
    std::string bound_;              // host:port bound
    std::map<std::string, std::weak_ptr<Operation>> token_ops_;  // secret hash → op
};

// /1.0/certificates (GET list/recursion, POST add by trusted caller / token / password,
// GET/PUT/PATCH/DELETE one, fingerprint prefixes accepted), GET /1.0 environment
// (certificate, fingerprint, addresses) and the masking of core.trust_password.
// Call after register_daemon_routes.
void register_certificate_routes(Api& api, RemoteAccess& remote);

}  // namespace lxm::api
