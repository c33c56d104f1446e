#include "lxm/api/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>

#include <condition_variable>
#include <future>
#include <cstring>
#include <thread>
#include <vector>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "lxm/api/http_session.hpp"
#include "lxm/api/tls.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/base/x509.hpp"

namespace lxm::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using UnixStream = beast::basic_stream<asio::local::stream_protocol, asio::any_io_executor>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct Server::State {
    std::shared_ptr<detail::SessionHub> hub;
    std::mutex mu;
    std::vector<std::shared_ptr<asio::local::stream_protocol::acceptor>> acceptors;
    std::vector<std::string> socket_paths;
    std::vector<std::shared_ptr<tcp::acceptor>> tls_acceptors;
};

namespace {

// Is something accepting connections at path?
bool socket_answers(const std::string& path) {
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

Peer unix_peer(int fd) {
    Peer p;
    p.kind = Peer::Kind::unix_socket;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        p.uid = cred.uid;
        p.gid = cred.gid;
        p.pid = cred.pid;
    }
    return p;
}

asio::awaitable<void> accept_loop(std::shared_ptr<detail::SessionHub> hub,
                                  std::shared_ptr<asio::local::stream_protocol::acceptor> acc) {
    for (;;) {
        auto strand = asio::make_strand(hub->ex.io());
        auto [ec, sock] = co_await acc->async_accept(strand, asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acc->is_open()) co_return;
            LXM_WARN("api: accept failed: {}", ec.message());
            if (ec == asio::error::no_descriptors) {
                asio::steady_timer t(acc->get_executor(), std::chrono::milliseconds(100));
                co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            continue;
        }
        Peer peer = unix_peer(sock.native_handle());
        UnixStream stream(std::move(sock));
        auto ex = stream.get_executor();
        asio::co_spawn(ex, detail::run_session<UnixStream>(hub, std::move(stream), std::move(peer)),
                       [](std::exception_ptr e) {
                           if (!e) return;
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& ex) {
                               LXM_ERROR("api: session ended by exception: {}", ex.what());
                           }
                       });
    }
}

void log_session_end(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        LXM_ERROR("api: session ended by exception: {}", ex.what());
    }
}

// TLS 1.2+ with forward-secret AEAD suites only; the client certificate is asked for
// and accepted whatever its issuer: trust is by fingerprint (the trust callback).
base::Result<std::shared_ptr<asio::ssl::context>> make_tls_context(const TlsIdentity& id) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* c = ctx->native_handle();
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                     asio::ssl::context::single_dh_use | asio::ssl::context::no_compression);
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(c,
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:"
                            "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256");
    SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    // No resumption: every connection presents its certificate again.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(c, 0);
    static const unsigned char sid[] = "lxmd";
    SSL_CTX_set_session_id_context(c, sid, sizeof sid - 1);
    boost::system::error_code ec;
    ctx->use_certificate_chain(asio::buffer(id.cert_pem), ec);
    if (!ec) ctx->use_private_key(asio::buffer(id.key_pem), asio::ssl::context::pem, ec);
    if (ec) return std::unexpected(base::Error{std::error_code(ec), "load the server certificate"});
    ctx->set_verify_mode(asio::ssl::verify_peer);
    ctx->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
    return ctx;
}

Peer tls_peer(TlsStream& stream, const tcp::endpoint& remote) {
    Peer p;
    p.kind = Peer::Kind::tls;
    p.address = join_host_port(remote.address().to_string(), remote.port());
    X509* cert = SSL_get1_peer_certificate(stream.native_handle());
    if (!cert) return p;
    unsigned char* der = nullptr;
    int n = i2d_X509(cert, &der);
    if (n > 0) {
        std::string_view d(reinterpret_cast<char*>(der), static_cast<size_t>(n));
        p.cert_fingerprint = base::der_fingerprint(d);
        if (auto pem = base::der_to_pem(d)) p.cert_pem = std::move(*pem);
        OPENSSL_free(der);
    }
    X509_free(cert);
    return p;
}

asio::awaitable<void> tls_session(std::shared_ptr<detail::SessionHub> hub, std::shared_ptr<asio::ssl::context> ctx,
                                  tcp::socket sock) {
    boost::system::error_code ec;
    auto remote = sock.remote_endpoint(ec);
    sock.set_option(tcp::no_delay(true), ec);
    TlsStream stream(beast::tcp_stream(std::move(sock)), *ctx);
    beast::get_lowest_layer(stream).expires_after(hub->opts.tls_handshake_timeout);
    auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (hec) {
        LXM_DEBUG("api: TLS handshake with {}: {}", remote.address().to_string(), hec.message());
        beast::get_lowest_layer(stream).close();
        co_return;
    }
    Peer peer = tls_peer(stream, remote);
    co_await detail::run_session<TlsStream>(hub, std::move(stream), std::move(peer));
    (void)ctx;  // kept alive for the session's lifetime
}

asio::awaitable<void> tls_accept_loop(std::shared_ptr<detail::SessionHub> hub, std::shared_ptr<tcp::acceptor> acc,
                                      std::shared_ptr<asio::ssl::context> ctx) {
    for (;;) {
        auto strand = asio::make_strand(hub->ex.io());
        auto [ec, sock] = co_await acc->async_accept(strand, asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acc->is_open()) co_return;
            LXM_WARN("api: https accept failed: {}", ec.message());
            asio::steady_timer t(acc->get_executor(), std::chrono::milliseconds(100));
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        auto ex = sock.get_executor();
        asio::co_spawn(ex, tls_session(hub, ctx, std::move(sock)), log_session_end);
    }
}

}  // namespace

Server::Server(Executors& ex, const Router& router, ServerOptions opts) : s_(std::make_shared<State>()) {
    s_->hub = std::make_shared<detail::SessionHub>(ex, router, std::move(opts));
}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

base::Result<void> Server::listen_unix(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return base::make_error(std::errc::file_exists, "listen on " + path + ": a non-socket file is in the way");
        if (socket_answers(path))
            return base::make_error(std::errc::address_in_use, "listen on " + path + ": another server answers there");
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) return base::errno_error("remove stale socket " + path);
    }
    auto acc = std::make_shared<asio::local::stream_protocol::acceptor>(asio::make_strand(s_->hub->ex.io()));
    boost::system::error_code ec;
    acc->open(asio::local::stream_protocol(), ec);
    if (!ec) acc->bind(asio::local::stream_protocol::endpoint(path), ec);
    if (ec) return std::unexpected(base::Error{std::error_code(ec), "bind " + path});
    if (::chmod(path.c_str(), s_->hub->opts.socket_mode) != 0) return base::errno_error("chmod " + path);
    acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return std::unexpected(base::Error{std::error_code(ec), "listen " + path});
    {
        std::lock_guard lk(s_->mu);
        s_->acceptors.push_back(acc);
        s_->socket_paths.push_back(path);
    }
    asio::co_spawn(acc->get_executor(), accept_loop(s_->hub, acc), asio::detached);
    return {};
}

base::Result<std::string> Server::listen_tls(const std::string& address, const TlsIdentity& id) {
    LXM_TRY(ListenAddress la, parse_listen_address(address));
    LXM_TRY(auto ctx, make_tls_context(id));
    boost::system::error_code ec;
    tcp::endpoint ep;
    if (la.host.empty()) {
        ep = tcp::endpoint(tcp::v6(), la.port);
    } else {
        auto addr = asio::ip::make_address(la.host, ec);
        if (ec) {
            // A host name: resolve it (local configuration only, no outside traffic).
            tcp::resolver res(s_->hub->ex.io());
            auto r = res.resolve(la.host, std::to_string(la.port), ec);
            if (ec || r.empty()) return std::unexpected(base::Error{std::error_code(ec), "resolve " + la.host});
            ep = r.begin()->endpoint();
        } else {
            ep = tcp::endpoint(addr, la.port);
        }
    }
    auto acc = std::make_shared<tcp::acceptor>(asio::make_strand(s_->hub->ex.io()));
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && ep.address().is_v6() && la.host.empty()) acc->set_option(asio::ip::v6_only(false), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return std::unexpected(base::Error{std::error_code(ec), "listen on " + address});
    ::fcntl(acc->native_handle(), F_SETFD, FD_CLOEXEC);
    auto bound = acc->local_endpoint(ec);
    {
        std::lock_guard lk(s_->mu);
        s_->tls_acceptors.push_back(acc);
    }
    asio::co_spawn(acc->get_executor(), tls_accept_loop(s_->hub, acc, std::move(ctx)), asio::detached);
    return join_host_port(bound.address().to_string(), bound.port());
}

void Server::close_tls() {
    std::vector<std::shared_ptr<tcp::acceptor>> accs;
    {
        std::lock_guard lk(s_->mu);
        accs.swap(s_->tls_acceptors);
    }
    for (auto& acc : accs) {
        // Close on the acceptor's strand; wait so the port is free when this returns (re-bind).
        std::promise<void> done;
        auto fut = done.get_future();
        asio::post(acc->get_executor(), [acc, &done] {
            boost::system::error_code ec;
            acc->close(ec);
            done.set_value();
        });
        if (fut.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
            boost::system::error_code ec;  // io threads not running (before start or after stop)
            acc->close(ec);
        }
    }
}

void Server::shutdown(std::chrono::milliseconds grace) {
    close_tls();
    std::vector<std::shared_ptr<asio::local::stream_protocol::acceptor>> accs;
    std::vector<std::string> paths;
    {
        std::lock_guard lk(s_->mu);
        accs.swap(s_->acceptors);
        paths.swap(s_->socket_paths);
    }
    for (auto& acc : accs) {
        asio::post(acc->get_executor(), [acc] {
            boost::system::error_code ec;
            acc->close(ec);
        });
    }
    for (auto& p : paths) ::unlink(p.c_str());

    auto& hub = *s_->hub;
    auto close_where = [&](bool only_idle) {
        std::lock_guard lk(hub.mu);
        hub.stopping = true;
        for (auto& [id, e] : hub.sessions)
            if (!only_idle || e.idle) e.close();
    };
    close_where(true);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (sessions() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    close_where(false);
}

size_t Server::sessions() const {
    std::lock_guard lk(s_->hub->mu);
    return s_->hub->sessions.size();
}

}  // namespace lxm::api
