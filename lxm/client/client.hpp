// Client: the synchronous LXD-1.0-API client used by the `lxm` CLI (unix socket
// now; TLS later behind the same interface). Beast stays inside client.cpp.
//
// Errors: an error envelope from the server becomes
// Error{apitypes::make_http_code(<HTTP status>), <server's "error" text>}, so
// apitypes::http_status_of(e) gives the status and apitypes::user_message(e) the
// text to show. Transport failures are ordinary system errors.
#pragma once

#include <map>
#include <memory>
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

    // Mirror a stream (exec stdio, console): frames from the server go to out_fd (discarded if
    // out_fd < 0); bytes read from in_fd (if >= 0) go to the server as binary frames, and an
    // empty text frame (LXD's end-of-stream barrier) follows in_fd's EOF. Returns when the
    // server ends its side (barrier or close) or interrupt() is called. The one thread
    // calling pump() owns the socket meanwhile; interrupt() may be called from any thread.
    base::Result<void> pump(int in_fd, int out_fd);
    void interrupt();

private:
    std::unique_ptr<Impl> impl_;
};

class Client {
public:
    // Connects once to check the socket; requests reuse a keep-alive connection.
    static base::Result<Client> connect_unix(std::string path);
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
