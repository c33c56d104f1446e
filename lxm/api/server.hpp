// Server: HTTP/1.1 listeners for the API (Beast on Asio coroutines).
//
// A unix socket listener (LXD's unix.socket) and HTTPS listeners (TLS 1.2+,
// ECDHE + AEAD ciphers, mutual TLS: the client certificate is requested, not
// verified against a CA; its fingerprint goes to Peer::cert_fingerprint and the
// trust callback decides). The session code is one template over the stream type
// (http_session.hpp). Trust is decided per request, so a certificate removed from
// the trust store loses access on connections that are already open.
//
// Every read is bounded: headers (header_limit), bodies (Route::body_limit →
// 413), and time (header_timeout for the next request on a keep-alive
// connection, body_timeout, write_timeout). Handlers marked blocking run on
// the blocking executor; Response::later completes without holding an io thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "lxm/api/executors.hpp"
#include "lxm/api/request.hpp"
#include "lxm/api/router.hpp"
#include "lxm/base/error.hpp"

namespace lxm::api {

struct ServerOptions {
    size_t header_limit = 64 * 1024;
    std::chrono::seconds header_timeout{120};
    std::chrono::seconds body_timeout{600};
    std::chrono::seconds write_timeout{600};
    mode_t socket_mode = 0660;
    std::chrono::seconds tls_handshake_timeout{30};
    // Decides Request::trusted, for every request. Default: unix-socket peers are
    // trusted (access is controlled by the socket's mode and group, as in LXD); others are not.
    std::function<bool(const Peer&)> trust;
};

// The server's certificate and key for HTTPS listeners (PEM).
struct TlsIdentity {
    std::string cert_pem;
    std::string key_pem;
};

class Server {
public:
    Server(Executors& ex, const Router& router, ServerOptions opts = {});
    ~Server();  // shutdown(0)
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Listen on a unix socket. An existing socket file is replaced only if nothing
    // answers on it (EADDRINUSE otherwise); a non-socket file there is an error.
    base::Result<void> listen_unix(const std::string& path);

    // Listen for HTTPS on "host:port" (parse_listen_address in tls.hpp; port 0 picks a free
    // one). Returns the bound "host:port". Several TLS listeners may run at once.
    base::Result<std::string> listen_tls(const std::string& address, const TlsIdentity& id);
    // Stop every HTTPS listener (open connections stay until they end or shutdown()).
    void close_tls();

    // Stop accepting, close idle connections, let in-flight requests finish for
    // up to `grace`, then close what is left. Blocks the caller (not an io thread).
    void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

    // Open HTTP connections (websockets handed to handlers no longer count).
    size_t sessions() const;

    struct State;

private:
    std::shared_ptr<State> s_;
};

}  // namespace lxm::api
