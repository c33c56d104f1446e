#include "lxm/client/transport.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>

#include "lxm/base/x509.hpp"

namespace lxm::client::detail {

namespace {
base::Error sys_error(const boost::system::error_code& ec, std::string ctx) {
    return base::Error{std::error_code(ec), std::move(ctx)};
}

// DER of a certificate, as its fingerprint and PEM.
std::pair<std::string, std::string> describe(X509* cert) {
    unsigned char* der = nullptr;
    int n = i2d_X509(cert, &der);
    if (n <= 0) return {};
    std::string d(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
    return {base::der_fingerprint(d), base::der_to_pem(d).value_or("")};
}
}  // namespace

base::Result<std::shared_ptr<asio::ssl::context>> make_client_context(const std::string& cert_pem,
                                                                      const std::string& key_pem) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx->native_handle(),
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:"
                            "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256");
    boost::system::error_code ec;
    if (!cert_pem.empty()) {
        ctx->use_certificate_chain(asio::buffer(cert_pem), ec);
        if (!ec) ctx->use_private_key(asio::buffer(key_pem), asio::ssl::context::pem, ec);
        if (ec) return std::unexpected(sys_error(ec, "load the client certificate"));
    }
    return ctx;
}

base::Result<AnyStream> open_stream(asio::io_context& io, const Endpoint& ep, std::string* presented_pem) {
    boost::system::error_code ec;
    if (!ep.unix_path.empty()) {
        local::socket s(io);
        s.connect(local::endpoint(ep.unix_path), ec);
        if (ec) return std::unexpected(sys_error(ec, "connect to " + ep.unix_path));
        return AnyStream(std::move(s));
    }
    std::string where = ep.host + ":" + ep.port;
    tcp::resolver res(io);
    auto results = res.resolve(ep.host, ep.port, ec);
    if (ec) return std::unexpected(sys_error(ec, "resolve " + ep.host));
    auto tls = std::make_unique<TlsSocket>(io, *ep.ssl);
    asio::connect(tls->lowest_layer(), results, ec);
    if (ec) return std::unexpected(sys_error(ec, "connect to " + where));
    tls->lowest_layer().set_option(tcp::no_delay(true), ec);
    // Trust is the pinned fingerprint of the server's own certificate, not a CA chain.
    std::string seen_fp, seen_pem;
    tls->set_verify_mode(asio::ssl::verify_peer);
    tls->set_verify_callback([&](bool, asio::ssl::verify_context& vc) {
        X509_STORE_CTX* sc = vc.native_handle();
        if (X509_STORE_CTX_get_error_depth(sc) != 0) return true;
        auto [fp, pem] = describe(X509_STORE_CTX_get_current_cert(sc));
        seen_fp = fp;
        seen_pem = pem;
        return ep.pinned_fingerprint.empty() || fp == ep.pinned_fingerprint;
    });
    tls->handshake(asio::ssl::stream_base::client, ec);
    if (presented_pem) *presented_pem = seen_pem;
    if (ec) {
        if (!ep.pinned_fingerprint.empty() && !seen_fp.empty() && seen_fp != ep.pinned_fingerprint)
            return base::make_error(std::errc::permission_denied,
                                    "the server at " + where + " presented certificate " + seen_fp.substr(0, 12) +
                                        ", not the pinned " + ep.pinned_fingerprint.substr(0, 12) +
                                        " (a different server, or its certificate changed)");
        return std::unexpected(sys_error(ec, "TLS handshake with " + where));
    }
    if (X509* cert = SSL_get1_peer_certificate(tls->native_handle())) {
        auto [fp, pem] = describe(cert);
        X509_free(cert);
        if (!ep.pinned_fingerprint.empty() && fp != ep.pinned_fingerprint)
            return base::make_error(std::errc::permission_denied, "server certificate mismatch at " + where);
        if (presented_pem) *presented_pem = pem;
    }
    return AnyStream(std::move(tls));
}

}  // namespace lxm::client::detail
