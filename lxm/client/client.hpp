// Client: the synchronous LXD-1.0-API client used by the `lxm` CLI, over the unix
// socket of a local lxmd or HTTPS to a remote (mutual TLS: the client certificate is
// presented, the server's is pinned by fingerprint). Beast stays inside client.cpp.
//
// Errors: an error envelope from the server becomes
// Error{apitypes::make_http_code(<HTTP status>), <server's "error" text>}, so
// apitypes::http_status_of(e) gives the status and apitypes::user_message(e) the
// text to show. Transport failures are ordinary system errors.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <vector>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lxm/apitypes/operation.hpp"
#include "lxm/apitypes/server.hpp"
#include "lxm/base/error.hpp"

namespace lxm::client {

using json = nlohmann::json;

// A parsed non-error envelope.
struct Response {
    int http_status = 0;
    std::string type;        // "sync" | "async"
    int status_code = 0;
    std::string operation;   // async: "/1.0/operations/<id>"
    json metadata;           // sync metadata, or the Operation for async
    std::string etag;        // ETag header without quotes ("" if none)
    std::string location;    // Location header
};

struct WsFrame {
    bool binary = true;
    std::string data;
};

// A client websocket (exec streams, console, events). Not thread-safe: use it
// from one thread, or serialize reads and writes yourself.
class WebSocketConn {
public:
    struct Impl;
    explicit WebSocketConn(std::unique_ptr<Impl> impl);
    WebSocketConn(WebSocketConn&&) noexcept;
    WebSocketConn& operator=(WebSocketConn&&) noexcept;
    ~WebSocketConn();

    // Next frame; a clean close by the server is errc::not_connected.
    base::Result<WsFrame> read();
    base::Result<void> write(const WsFrame& f);
    base::Result<void> write_text(std::string_view s) { return write(WsFrame{false, std::string(s)}); }
    base::Result<void> write_binary(std::string_view s) { return write(WsFrame{true, std::string(s)}); }
    // Close handshake (idempotent).
    void close();
    // Bound read(), write() and close(): each gives up after `t` without completing
    // (errc::timed_out), and the connection is then dropped without a close handshake
    // (a peer behind a cut link never answers one). 0 (the default) = wait forever.
    // Migration streams use it to notice a dead peer.
    void set_timeout(std::chrono::milliseconds t);

    // Mirror a stream (exec stdio, console): frames from the server go to out_fd (discarded if
    // out_fd < 0); bytes read from in_fd (if >= 0) go to the server as binary frames, and an
    // empty text frame (LXD's end-of-stream barrier) follows in_fd's EOF. Returns when the
    // server ends its side (barrier or close) or interrupt() is called. The one thread
    // calling pump() owns the socket meanwhile; interrupt() may be called from any thread.
    base::Result<void> pump(int in_fd, int out_fd);
    void interrupt();

    // Copy frames both ways between a and b, each whole and with its type (text, binary, the
    // empty barrier), as LXD's client relays migration streams between two servers (copy
    // --mode relay). One frame at a time per direction (a slow side holds the other back).
    // When one side's stream ends (its close, or an error), the other gets a close once what
    // it was sent is written (given up after close_wait); returns when both ended. Both
    // connections are closed afterwards. An error is returned for a side that failed rather
    // than closed.
    static base::Result<void> relay(WebSocketConn& a, WebSocketConn& b,
                                    std::chrono::milliseconds close_wait = std::chrono::seconds(5));

private:
    std::unique_ptr<Impl> impl_;
};

class Client {
public:
    // Connects once to check the socket; requests reuse a keep-alive connection.
    static base::Result<Client> connect_unix(std::string path);

    struct TlsConfig {
        std::string address;             // "host[:port]", "[v6]:port" or "https://host:port" (port 8443 by default)
        std::string client_cert_pem;     // presented to the server ("" = none: an untrusted caller)
        std::string client_key_pem;
        std::string server_fingerprint;  // pinned (sha256 hex); "" accepts any (first contact only)
    };
    // Connects once (handshake, pin checked); requests reuse a keep-alive connection.
    static base::Result<Client> connect_tls(const TlsConfig& cfg);
    // TLS: the certificate (PEM) the server presented; "" over the unix socket.
    const std::string& server_certificate() const;
    bool is_tls() const;
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    ~Client();

    // Any method; body is sent as JSON when not null. headers: extra request headers (e.g. If-Match).
    base::Result<Response> query(std::string_view method, std::string_view path, const json& body = nullptr,
                                 const std::map<std::string, std::string>& headers = {});
    // GET and return the sync metadata.
    base::Result<json> get(std::string_view path);
    base::Result<Response> post(std::string_view path, const json& body);
    base::Result<Response> put(std::string_view path, const json& body);
    base::Result<Response> patch(std::string_view path, const json& body);
    base::Result<Response> del(std::string_view path);

    // A request whose bodies are not JSON (file push/pull). An error envelope in the answer
    // (JSON body with type "error") becomes an error as in query().
    struct RawResponse {
        int http_status = 0;
        std::map<std::string, std::string> headers;  // lower-case names
        std::string body;
    };
    base::Result<RawResponse> raw(std::string_view method, std::string_view path, std::string body = {},
                                  const std::map<std::string, std::string>& headers = {});

    // A request whose body is streamed from parts (bytes, or a whole file read as it is
    // sent: image uploads), on a connection of its own; the answer is parsed like query().
    struct BodyPart {
        std::string data;
        std::string file;
    };
    base::Result<Response> upload(std::string_view method, std::string_view path, const std::vector<BodyPart>& parts,
                                  const std::map<std::string, std::string>& headers = {});
    // A GET whose body goes to sink chunk by chunk (image export), on a connection of its
    // own; on_headers (if set) sees the lower-case response headers before the first chunk.
    // Returns status and headers (body empty). Error envelopes become errors as in raw().
    using Headers = std::map<std::string, std::string>;
    base::Result<RawResponse> download(std::string_view path,
                                       const std::function<base::Result<void>(std::string_view)>& sink,
                                       const std::function<base::Result<void>(const Headers&)>& on_headers = {});

    base::Result<apitypes::ServerInfo> server_info();
    // GET <op>/wait?timeout=<s> (-1 forever); op is an id or "/1.0/operations/<id>". Returns the
    // operation as it is when it ended or the timeout passed (check status_code / is_final).
    base::Result<apitypes::Operation> wait_operation(std::string_view op, int timeout_s = -1);
    // Like wait_operation(op, -1), but Failure/Cancelled become errors carrying the op's err text.
    base::Result<apitypes::Operation> wait_success(std::string_view op);

    // Open a websocket on path (e.g. "/1.0/events?type=operation" or an operation's websocket URL).
    base::Result<WebSocketConn> websocket(std::string_view path);

    struct Impl;

private:
    explicit Client(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace lxm::client
