// Internal to lxm/client: one stream type over either transport, so the HTTP and
// websocket code is written once. A unix socket (local lxmd) or TLS over TCP
// (a remote: client certificate presented, server certificate pinned by fingerprint).
// Satisfies Asio's Sync/AsyncRead/WriteStream and Beast's websocket teardown.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "lxm/base/error.hpp"

namespace lxm::client::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using local = asio::local::stream_protocol;
using tcp = asio::ip::tcp;
using TlsSocket = asio::ssl::stream<tcp::socket>;

class AnyStream {
public:
    using executor_type = asio::any_io_executor;

    explicit AnyStream(local::socket s) : unix_(std::make_unique<local::socket>(std::move(s))) {}
    explicit AnyStream(std::unique_ptr<TlsSocket> s) : tls_(std::move(s)) {}
    AnyStream(AnyStream&&) noexcept = default;
    AnyStream& operator=(AnyStream&&) noexcept = default;

    executor_type get_executor() { return unix_ ? unix_->get_executor() : tls_->get_executor(); }
    bool is_tls() const { return tls_ != nullptr; }
    TlsSocket* tls() { return tls_.get(); }

    template <class MB>
    size_t read_some(const MB& b, boost::system::error_code& ec) {
        return unix_ ? unix_->read_some(b, ec) : tls_->read_some(b, ec);
    }
    template <class MB>
    size_t read_some(const MB& b) {
        return unix_ ? unix_->read_some(b) : tls_->read_some(b);
    }
    template <class CB>
    size_t write_some(const CB& b, boost::system::error_code& ec) {
        return unix_ ? unix_->write_some(b, ec) : tls_->write_some(b, ec);
    }
    template <class CB>
    size_t write_some(const CB& b) {
        return unix_ ? unix_->write_some(b) : tls_->write_some(b);
    }
    template <class MB, class Token>
    auto async_read_some(const MB& b, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
            [this](auto handler, const MB& buf) {
                if (unix_) unix_->async_read_some(buf, std::move(handler));
                else tls_->async_read_some(buf, std::move(handler));
            },
            token, b);
    }
    template <class CB, class Token>
    auto async_write_some(const CB& b, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
            [this](auto handler, const CB& buf) {
                if (unix_) unix_->async_write_some(buf, std::move(handler));
                else tls_->async_write_some(buf, std::move(handler));
            },
            token, b);
    }

    void cancel(boost::system::error_code& ec) { lowest().cancel(ec); }
    void close(boost::system::error_code& ec) {
        if (unix_) unix_->close(ec);
        else tls_->lowest_layer().close(ec);
    }
    bool is_open() const { return unix_ ? unix_->is_open() : tls_->lowest_layer().is_open(); }

    friend void teardown(beast::role_type role, AnyStream& s, boost::system::error_code& ec) {
        if (s.unix_) beast::websocket::teardown(role, *s.unix_, ec);
        else boost::beast::teardown(role, *s.tls_, ec);
    }
    template <class Handler>
    friend void async_teardown(beast::role_type role, AnyStream& s, Handler&& h) {
        if (s.unix_) beast::websocket::async_teardown(role, *s.unix_, std::forward<Handler>(h));
        else boost::beast::async_teardown(role, *s.tls_, std::forward<Handler>(h));
    }
    // Beast closes the stream on websocket timeouts through this.
    friend void beast_close_socket(AnyStream& s) {
        boost::system::error_code ec;
        s.close(ec);
    }

private:
    struct Lowest {
        AnyStream& s;
        void cancel(boost::system::error_code& ec) {
            if (s.unix_) s.unix_->cancel(ec);
            else s.tls_->lowest_layer().cancel(ec);
        }
    };
    Lowest lowest() { return Lowest{*this}; }

    std::unique_ptr<local::socket> unix_;
    std::unique_ptr<TlsSocket> tls_;
};

// Where and how to connect; shared by the Client and its websockets.
struct Endpoint {
    std::string unix_path;  // set: unix socket
    // TLS:
    std::string host;
    std::string port;
    std::shared_ptr<asio::ssl::context> ssl;
    std::string pinned_fingerprint;  // "" = accept any (first contact)
};

// Connect (and for TLS handshake, verifying the pin). presented_pem (if not null) receives
// the certificate the server showed.
base::Result<AnyStream> open_stream(asio::io_context& io, const Endpoint& ep, std::string* presented_pem = nullptr);

// TLS 1.2+ client context presenting this certificate.
base::Result<std::shared_ptr<asio::ssl::context>> make_client_context(const std::string& cert_pem,
                                                                      const std::string& key_pem);

}  // namespace lxm::client::detail
