#include "lxm/client/client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <optional>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "lxm/apitypes/envelope.hpp"
#include "lxm/client/transport.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::client {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using local = asio::local::stream_protocol;

namespace {
base::Error sys_error(const boost::system::error_code& ec, std::string ctx) {
    return base::Error{std::error_code(ec), std::move(ctx)};
}
}  // namespace

// ---- WebSocketConn ----

struct WebSocketConn::Impl {
    asio::io_context io;
    std::optional<beast::websocket::stream<detail::AnyStream>> ws;
    beast::flat_buffer buf;
    bool closed = false;
    std::atomic<bool> interrupted{false};
    std::chrono::milliseconds timeout{0};
};

namespace {
// One asynchronous websocket operation run on impl.io for at most impl.timeout. On expiry
// the socket is closed (the operation then completes with an error, awaited here) and the
// connection is given up: timed_out.
template <class Start>
boost::system::error_code run_bounded(WebSocketConn::Impl& impl, Start&& start) {
    boost::system::error_code result;
    bool done = false;
    impl.io.restart();
    start([&result, &done](boost::system::error_code ec, auto&&...) {
        result = ec;
        done = true;
    });
    impl.io.run_for(impl.timeout);
    if (done) return result;
    boost::system::error_code ec;
    impl.ws->next_layer().close(ec);
    impl.closed = true;
    impl.io.restart();
    impl.io.run_for(std::chrono::seconds(10));
    return asio::error::timed_out;
}
}  // namespace

WebSocketConn::WebSocketConn(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebSocketConn::WebSocketConn(WebSocketConn&&) noexcept = default;
WebSocketConn& WebSocketConn::operator=(WebSocketConn&&) noexcept = default;
WebSocketConn::~WebSocketConn() { close(); }

void WebSocketConn::set_timeout(std::chrono::milliseconds t) {
    if (impl_) impl_->timeout = t;
}

base::Result<WsFrame> WebSocketConn::read() {
    boost::system::error_code ec;
    impl_->buf.clear();
    if (impl_->timeout.count() > 0) {
        if (impl_->closed) return base::make_error(std::errc::not_connected, "websocket closed");
        ec = run_bounded(*impl_, [this](auto h) { impl_->ws->async_read(impl_->buf, std::move(h)); });
        if (ec == asio::error::timed_out)
            return base::make_error(std::errc::timed_out, "websocket read: nothing received for " +
                                                              std::to_string(impl_->timeout.count() / 1000) + " s");
    } else {
        impl_->ws->read(impl_->buf, ec);
    }
    if (ec == beast::websocket::error::closed) {
        impl_->closed = true;
        return base::make_error(std::errc::not_connected, "websocket closed");
    }
    if (ec) return std::unexpected(sys_error(ec, "websocket read"));
    return WsFrame{impl_->ws->got_binary(), beast::buffers_to_string(impl_->buf.data())};
}

base::Result<void> WebSocketConn::write(const WsFrame& f) {
    boost::system::error_code ec;
    impl_->ws->binary(f.binary);
    if (impl_->timeout.count() > 0) {
        if (impl_->closed) return base::make_error(std::errc::not_connected, "websocket closed");
        ec = run_bounded(*impl_, [this, &f](auto h) { impl_->ws->async_write(asio::buffer(f.data), std::move(h)); });
        if (ec == asio::error::timed_out)
            return base::make_error(std::errc::timed_out, "websocket write: the peer took nothing for " +
                                                              std::to_string(impl_->timeout.count() / 1000) + " s");
    } else {
        impl_->ws->write(asio::buffer(f.data), ec);
    }
    if (ec) return std::unexpected(sys_error(ec, "websocket write"));
    return {};
}

void WebSocketConn::close() {
    if (!impl_ || impl_->closed || !impl_->ws) return;
    impl_->closed = true;
    boost::system::error_code ec;
    if (impl_->ws->is_open()) {
        if (impl_->timeout.count() > 0) {
            ec = run_bounded(*impl_, [this](auto h) {
                impl_->ws->async_close(beast::websocket::close_code::normal, std::move(h));
            });
        } else {
            impl_->ws->close(beast::websocket::close_code::normal, ec);
        }
    }
    impl_->ws->next_layer().close(ec);
}

namespace {
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

// State of one pump() call; lives on the pumping thread's stack, touched only from impl.io.
struct PumpState {
    WebSocketConn::Impl& impl;
    int out_fd;
    std::deque<WsFrame> queue;
    bool writing = false;
    bool failed = false;
    boost::system::error_code error;
};

void pump_write_next(PumpState& st);
void pump_read_next(PumpState& st);

void pump_write_next(PumpState& st) {
    if (st.writing || st.queue.empty() || st.failed) return;
    st.writing = true;
    st.impl.ws->binary(st.queue.front().binary);
    st.impl.ws->async_write(asio::buffer(st.queue.front().data), [&st](boost::system::error_code ec, size_t) {
        st.writing = false;
        st.queue.pop_front();
        if (ec) {
            st.failed = true;
            st.error = ec;
            st.impl.io.stop();
            return;
        }
        pump_write_next(st);
    });
}

void pump_read_next(PumpState& st) {
    st.impl.buf.clear();
    st.impl.ws->async_read(st.impl.buf, [&st](boost::system::error_code ec, size_t) {
        if (ec) {
            // A close frame or a dropped connection both end the server's side.
            if (ec != beast::websocket::error::closed) st.error = ec;
            if (ec == beast::websocket::error::closed) st.impl.closed = true;
            st.impl.io.stop();
            return;
        }
        std::string data = beast::buffers_to_string(st.impl.buf.data());
        if (!st.impl.ws->got_binary() && data.empty()) {  // barrier: end of this stream
            st.impl.io.stop();
            return;
        }
        if (st.out_fd >= 0 && !write_all(st.out_fd, data)) st.out_fd = -1;  // reader gone: keep draining
        pump_read_next(st);
    });
}
}  // namespace

base::Result<void> WebSocketConn::pump(int in_fd, int out_fd) {
    if (!impl_ || impl_->closed) return base::make_error(std::errc::not_connected, "websocket closed");
    auto& io = impl_->io;
    io.restart();
    if (impl_->interrupted) return {};
    PumpState st{*impl_, out_fd, {}, false, false, {}};
    auto guard = asio::make_work_guard(io);

    int wake[2] = {-1, -1};
    if (in_fd >= 0 && ::pipe2(wake, O_CLOEXEC) < 0) return base::errno_error("pipe2");
    base::UniqueFd wake_r(wake[0]), wake_w(wake[1]);
    std::thread reader;
    if (in_fd >= 0) {
        reader = std::thread([&st, &io, in_fd, wr = wake_r.get()] {
            std::string chunk(64 * 1024, '\0');
            for (;;) {
                pollfd pfds[2] = {{in_fd, POLLIN, 0}, {wr, POLLIN, 0}};
                if (::poll(pfds, 2, -1) < 0) {
                    if (errno == EINTR) continue;
                    return;
                }
                if (pfds[1].revents) return;  // pump ending
                ssize_t n = ::read(in_fd, chunk.data(), chunk.size());
                if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
                WsFrame f{n > 0, n > 0 ? chunk.substr(0, static_cast<size_t>(n)) : std::string()};
                asio::post(io, [&st, f = std::move(f)]() mutable {
                    st.queue.push_back(std::move(f));
                    pump_write_next(st);
                });
                if (n <= 0) return;  // EOF (or error): the barrier is queued
            }
        });
    }
    pump_read_next(st);
    io.run();
    if (reader.joinable()) {
        char c = 1;
        [[maybe_unused]] auto n = ::write(wake_w.get(), &c, 1);
        reader.join();
    }
    // Leave the stream quiescent: cancel what is still in flight and let the handlers see it.
    boost::system::error_code ec;
    guard.reset();
    impl_->ws->next_layer().cancel(ec);
    io.restart();
    io.poll();
    if (st.failed) return std::unexpected(sys_error(st.error, "websocket write"));
    if (st.error && st.error != asio::error::operation_aborted && st.error != asio::error::eof &&
        st.error != asio::error::connection_reset)
        return std::unexpected(sys_error(st.error, "websocket read"));
    return {};
}

void WebSocketConn::interrupt() {
    if (!impl_) return;
    impl_->interrupted = true;
    impl_->io.stop();
}

// ---- WebSocketConn::relay ----
//
// Each side's state is touched only on its own io_context, run by one thread each; frames
// and notices cross over by asio::post. Direction a→b: a reads one frame, posts it to b;
// b writes it and posts "read the next" back to a.
namespace {
struct RelaySide {
    WebSocketConn::Impl& impl;
    std::chrono::milliseconds close_wait;
    RelaySide* peer = nullptr;
    std::atomic<int>* finished = nullptr;
    std::deque<WsFrame> queue{};  // frames from the peer to write here (one at a time)
    bool writing = false;
    bool read_ended = false;   // this side sends nothing more
    bool write_ended = false;  // nothing more is written here (closed, or failed)
    bool closing = false;      // close once the queue is written
    bool close_pending = false;
    bool counted = false;
    boost::system::error_code error{};  // a failure (not a close)
    std::optional<asio::steady_timer> close_timer{};
};

void relay_read_next(RelaySide& s);
void relay_write_next(RelaySide& s);

bool relay_benign(const boost::system::error_code& ec) {
    return !ec || ec == beast::websocket::error::closed || ec == asio::error::operation_aborted ||
           ec == asio::error::eof || ec == asio::error::connection_reset || ec == beast::error::timeout;
}

void relay_check_done(RelaySide& s) {
    if (s.counted || !s.read_ended || !s.write_ended || s.writing || s.close_pending) return;
    s.counted = true;
    if (s.close_timer) s.close_timer->cancel();
    if (s.finished->fetch_add(1) + 1 == 2) {
        s.impl.io.stop();
        s.peer->impl.io.stop();
    }
}

// No more writes here: the socket is dropped (a pending read then ends too).
void relay_drop(RelaySide& s) {
    s.write_ended = true;
    boost::system::error_code ec;
    s.impl.ws->next_layer().close(ec);
}

// The peer may read its next frame (the one it sent was written here, or dropped).
void relay_resume_peer(RelaySide& s) {
    RelaySide& p = *s.peer;
    asio::post(p.impl.io, [&p] {
        if (!p.read_ended) relay_read_next(p);
    });
}

void relay_start_close(RelaySide& s) {
    s.write_ended = true;
    if (!s.impl.ws->is_open()) {
        relay_check_done(s);
        return;
    }
    s.close_pending = true;
    s.close_timer.emplace(s.impl.io, s.close_wait);
    s.close_timer->async_wait([&s](boost::system::error_code ec) {
        if (ec) return;  // cancelled: the close completed
        boost::system::error_code ignore;
        s.impl.ws->next_layer().close(ignore);  // the peer does not answer: drop it
    });
    s.impl.ws->async_close(beast::websocket::close_code::normal, [&s](boost::system::error_code ec) {
        s.close_pending = false;
        if (s.close_timer) s.close_timer->cancel();
        if (!relay_benign(ec) && !s.error) s.error = ec;
        relay_check_done(s);
    });
}

void relay_write_next(RelaySide& s) {
    if (s.writing) return;
    if (s.write_ended) {
        if (!s.queue.empty()) {
            s.queue.clear();
            relay_resume_peer(s);
        }
        relay_check_done(s);
        return;
    }
    if (s.queue.empty()) {
        if (s.closing) relay_start_close(s);
        return;
    }
    s.writing = true;
    s.impl.ws->binary(s.queue.front().binary);
    s.impl.ws->async_write(asio::buffer(s.queue.front().data), [&s](boost::system::error_code ec, size_t) {
        s.writing = false;
        s.queue.pop_front();
        if (ec) {
            if (!relay_benign(ec) && !s.error) s.error = ec;
            relay_drop(s);
        }
        relay_resume_peer(s);
        relay_write_next(s);
        relay_check_done(s);
    });
}

void relay_read_next(RelaySide& s) {
    s.impl.buf.clear();
    s.impl.ws->async_read(s.impl.buf, [&s](boost::system::error_code ec, size_t) {
        if (ec) {
            // A close (Beast answered it) or a broken connection: this side is over both ways.
            s.read_ended = true;
            if (!relay_benign(ec) && !s.error) s.error = ec;
            if (ec == beast::websocket::error::closed) s.write_ended = true;
            else if (!s.close_pending) relay_drop(s);
            if (!s.writing) s.queue.clear();  // an in-flight write still uses its front
            RelaySide& p = *s.peer;
            asio::post(p.impl.io, [&p] {
                p.closing = true;
                relay_write_next(p);
            });
            relay_check_done(s);
            return;
        }
        WsFrame f{s.impl.ws->got_binary(), beast::buffers_to_string(s.impl.buf.data())};
        RelaySide& p = *s.peer;
        asio::post(p.impl.io, [&p, f = std::move(f)]() mutable {
            p.queue.push_back(std::move(f));
            relay_write_next(p);
        });
    });
}
}  // namespace

base::Result<void> WebSocketConn::relay(WebSocketConn& a, WebSocketConn& b, std::chrono::milliseconds close_wait) {
    if (!a.impl_ || !b.impl_ || a.impl_->closed || b.impl_->closed)
        return base::make_error(std::errc::not_connected, "websocket closed");
    std::atomic<int> finished{0};
    RelaySide sa{*a.impl_, close_wait}, sb{*b.impl_, close_wait};
    sa.peer = &sb;
    sb.peer = &sa;
    sa.finished = sb.finished = &finished;
    for (auto* s : {&sa, &sb}) s->impl.io.restart();
    auto ga = asio::make_work_guard(sa.impl.io), gb = asio::make_work_guard(sb.impl.io);
    asio::post(sa.impl.io, [&sa] { relay_read_next(sa); });
    asio::post(sb.impl.io, [&sb] { relay_read_next(sb); });
    std::thread other([&sa] { sa.impl.io.run(); });
    sb.impl.io.run();
    other.join();
    // Both sides ended: drop the sockets and let what is still queued see it.
    for (auto* s : {&sa, &sb}) {
        boost::system::error_code ec;
        if (s->close_timer) s->close_timer->cancel();
        s->impl.ws->next_layer().close(ec);
        s->impl.closed = true;
    }
    ga.reset();
    gb.reset();
    for (auto* s : {&sa, &sb}) {
        s->impl.io.restart();
        s->impl.io.poll();
    }
    for (auto* s : {&sa, &sb})
        if (s->error) return std::unexpected(sys_error(s->error, "websocket relay"));
    return {};
}

// ---- Client ----

struct Client::Impl {
    detail::Endpoint ep;
    std::string server_pem;  // TLS: what the server presented on the first connection
    asio::io_context io;
    std::optional<detail::AnyStream> sock;
    beast::flat_buffer buf;

    // A new connection (unix socket, or TLS with the server's certificate pinned).
    base::Result<detail::AnyStream> open() { return detail::open_stream(io, ep); }

    base::Result<http::response<http::string_body>> roundtrip(http::request<http::string_body>& req) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            bool reused = sock.has_value();
            if (!sock) {
                buf.clear();
                auto s = open();
                if (!s) return std::unexpected(s.error());
                sock.emplace(std::move(*s));
            }
            boost::system::error_code ec;
            http::write(*sock, req, ec);
            http::response_parser<http::string_body> parser;
            parser.body_limit(256 * 1024 * 1024);
            if (!ec) http::read(*sock, buf, parser, ec);
            if (ec) {
                sock.reset();
                // A kept-alive connection the server closed meanwhile: retry once on a fresh one.
                if (reused && (ec == http::error::end_of_stream || ec == asio::error::broken_pipe ||
                               ec == asio::error::connection_reset || ec == asio::error::eof))
                    continue;
                return std::unexpected(sys_error(ec, std::string(req.method_string()) + " " + std::string(req.target())));
            }
            auto res = parser.release();
            if (!res.keep_alive()) sock.reset();
            return res;
        }
        return base::make_error(std::errc::connection_reset, "connection lost");
    }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

base::Result<Client> Client::connect_unix(std::string path) {
    auto impl = std::make_unique<Impl>();
    impl->ep.unix_path = std::move(path);
    LXM_TRY(auto s, impl->open());
    impl->sock.emplace(std::move(s));
    return Client(std::move(impl));
}

base::Result<Client> Client::connect_tls(const TlsConfig& cfg) {
    auto impl = std::make_unique<Impl>();
    std::string_view a = cfg.address;
    if (a.starts_with("https://")) a.remove_prefix(8);
    while (a.ends_with("/")) a.remove_suffix(1);
    std::string host(a), port = "8443";
    if (a.starts_with("[")) {
        auto close = a.find(']');
        if (close == std::string_view::npos) return base::make_error(std::errc::invalid_argument, "bad address " + cfg.address);
        host = std::string(a.substr(1, close - 1));
        if (close + 1 < a.size() && a[close + 1] == ':') port = std::string(a.substr(close + 2));
    } else if (std::count(a.begin(), a.end(), ':') == 1) {
        host = std::string(a.substr(0, a.find(':')));
        port = std::string(a.substr(a.find(':') + 1));
    }
    if (host.empty() || port.empty()) return base::make_error(std::errc::invalid_argument, "bad address " + cfg.address);
    impl->ep.host = host;
    impl->ep.port = port;
    impl->ep.pinned_fingerprint = cfg.server_fingerprint;
    LXM_TRY(impl->ep.ssl, detail::make_client_context(cfg.client_cert_pem, cfg.client_key_pem));
    LXM_TRY(auto s, detail::open_stream(impl->io, impl->ep, &impl->server_pem));
    impl->sock.emplace(std::move(s));
    return Client(std::move(impl));
}

const std::string& Client::server_certificate() const { return impl_->server_pem; }
bool Client::is_tls() const { return impl_->ep.unix_path.empty(); }

namespace {

// An envelope answer (string body) as query() and upload() return it.
base::Result<Response> parse_answer(const http::response<http::string_body>& res, const std::string& ctx) {
    json j = json::parse(res.body(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return apitypes::http_error(static_cast<int>(res.result_int()),
                                    ctx + ": unexpected response (HTTP " + std::to_string(res.result_int()) + ")");
    // The metadata is moved out, not copied with the envelope (a list is megabytes of nodes).
    json metadata;
    if (auto it = j.find("metadata"); it != j.end()) metadata = std::move(*it);
    auto env = apitypes::parse_as<apitypes::Envelope>(j);
    if (!env) return std::unexpected(base::wrap(env.error(), ctx));
    if (env->type == "error") {
        int status = env->error_code ? env->error_code : static_cast<int>(res.result_int());
        return apitypes::http_error(status, env->error);
    }
    Response out;
    out.http_status = static_cast<int>(res.result_int());
    out.type = env->type;
    out.status_code = env->status_code;
    out.operation = env->operation;
    out.metadata = std::move(metadata);
    if (auto it = res.find(http::field::etag); it != res.end()) {
        std::string e(it->value());
        if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
        out.etag = e;
    }
    if (auto it = res.find(http::field::location); it != res.end()) out.location = std::string(it->value());
    return out;
}

}  // namespace

base::Result<Response> Client::query(std::string_view method, std::string_view path, const json& body,
                                     const std::map<std::string, std::string>& headers) {
    http::request<http::string_body> req{http::string_to_verb(method), std::string(path), 11};
    req.set(http::field::host, "lxd");
    req.set(http::field::user_agent, "lxm");
    for (auto& [k, v] : headers) req.set(k, v);
    if (!body.is_null()) {
        req.set(http::field::content_type, "application/json");
        req.body() = body.dump();
    }
    req.keep_alive(true);
    req.prepare_payload();
    LXM_TRY(auto res, impl_->roundtrip(req));
    return parse_answer(res, std::string(method) + " " + std::string(path));
}

base::Result<Client::RawResponse> Client::raw(std::string_view method, std::string_view path, std::string body,
                                              const std::map<std::string, std::string>& headers) {
    http::request<http::string_body> req{http::string_to_verb(method), std::string(path), 11};
    req.set(http::field::host, "lxd");
    req.set(http::field::user_agent, "lxm");
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();
    LXM_TRY(auto res, impl_->roundtrip(req));
    int status = static_cast<int>(res.result_int());
    std::string ctype(res[http::field::content_type]);
    // An error envelope is small: a large successful JSON body is data for the caller, who
    // parses it once (lxm list reads thousands of instances this way).
    constexpr size_t kEnvelopeMax = 64 * 1024;
    if (status >= 400 || (ctype.starts_with("application/json") && res.body().size() <= kEnvelopeMax)) {
        json j = json::parse(res.body(), nullptr, false);
        if (j.is_object() && j.value("type", "") == "error") {
            int code = j.value("error_code", 0);
            return apitypes::http_error(code ? code : status, j.value("error", ""));
        }
        if (status >= 400)
            return apitypes::http_error(status, std::string(method) + " " + std::string(path) + ": HTTP " +
                                                    std::to_string(status));
    }
    RawResponse out;
    out.http_status = status;
    for (auto& f : res) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[name] = std::string(f.value());
    }
    out.body = std::move(res.body());
    return out;
}

base::Result<Response> Client::upload(std::string_view method, std::string_view path, const std::vector<BodyPart>& parts,
                                      const std::map<std::string, std::string>& headers) {
    std::string ctx = std::string(method) + " " + std::string(path);
    std::vector<base::UniqueFd> fds(parts.size());
    uint64_t total = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (parts[i].file.empty()) {
            total += parts[i].data.size();
            continue;
        }
        int fd = ::open(parts[i].file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return base::errno_error("open " + parts[i].file);
        fds[i].reset(fd);
        off_t end = ::lseek(fd, 0, SEEK_END);
        if (end < 0 || ::lseek(fd, 0, SEEK_SET) != 0) return base::errno_error("size of " + parts[i].file);
        total += static_cast<uint64_t>(end);
    }
    LXM_TRY(auto sock, impl_->open());
    http::request<http::empty_body> req{http::string_to_verb(method), std::string(path), 11};
    req.set(http::field::host, "lxd");
    req.set(http::field::user_agent, "lxm");
    for (auto& [k, v] : headers) req.set(k, v);
    req.content_length(total);
    req.keep_alive(false);
    http::request_serializer<http::empty_body> sr{req};
    boost::system::error_code ec;
    http::write_header(sock, sr, ec);
    std::vector<char> buf(1 << 20);
    for (size_t i = 0; i < parts.size() && !ec; ++i) {
        if (parts[i].file.empty()) {
            asio::write(sock, asio::buffer(parts[i].data), ec);
            continue;
        }
        for (;;) {
            ssize_t n = ::read(fds[i].get(), buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return base::errno_error("read " + parts[i].file);
            if (n == 0) break;
            asio::write(sock, asio::buffer(buf.data(), static_cast<size_t>(n)), ec);
            if (ec) break;
        }
    }
    // The server may answer (and close) before reading everything, e.g. 413: read its answer anyway.
    beast::flat_buffer rbuf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    boost::system::error_code rec;
    http::read(sock, rbuf, parser, rec);
    if (rec) return std::unexpected(sys_error(ec ? ec : rec, ctx));
    return parse_answer(parser.get(), ctx);
}

base::Result<Client::RawResponse> Client::download(std::string_view path,
                                                   const std::function<base::Result<void>(std::string_view)>& sink,
                                                   const std::function<base::Result<void>(const Headers&)>& on_headers) {
    std::string ctx = "GET " + std::string(path);
    LXM_TRY(auto sock, impl_->open());
    http::request<http::empty_body> req{http::verb::get, std::string(path), 11};
    req.set(http::field::host, "lxd");
    req.set(http::field::user_agent, "lxm");
    req.keep_alive(false);
    boost::system::error_code ec;
    http::write(sock, req, ec);
    if (ec) return std::unexpected(sys_error(ec, ctx));
    beast::flat_buffer rbuf;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    http::read_header(sock, rbuf, parser, ec);
    if (ec) return std::unexpected(sys_error(ec, ctx));
    RawResponse out;
    out.http_status = static_cast<int>(parser.get().result_int());
    for (auto& f : parser.get()) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[name] = std::string(f.value());
    }
    const bool is_error = out.http_status >= 400 || out.headers["content-type"].starts_with("application/json");
    if (!is_error && on_headers) LXM_TRY_VOID(on_headers(out.headers));
    std::string error_body;
    std::vector<char> buf(1 << 20);
    while (!parser.is_done()) {
        parser.get().body().data = buf.data();
        parser.get().body().size = buf.size();
        http::read(sock, rbuf, parser, ec);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) return std::unexpected(sys_error(ec, ctx));
        size_t n = buf.size() - parser.get().body().size;
        if (is_error) {
            if (error_body.size() < (1 << 20)) error_body.append(buf.data(), n);
        } else if (n) {
            LXM_TRY_VOID(sink(std::string_view(buf.data(), n)));
        }
    }
    if (is_error) {
        json j = json::parse(error_body, nullptr, false);
        if (j.is_object() && j.value("type", "") == "error") {
            int code = j.value("error_code", 0);
            return apitypes::http_error(code ? code : out.http_status, j.value("error", ""));
        }
        if (out.http_status >= 400) return apitypes::http_error(out.http_status, ctx + ": HTTP " + std::to_string(out.http_status));
        // A JSON body that is not an error: hand it to the sink like any other.
        LXM_TRY_VOID(sink(error_body));
    }
    return out;
}

base::Result<json> Client::get(std::string_view path) {
    LXM_TRY(auto r, query("GET", path));
    return std::move(r.metadata);
}

base::Result<Response> Client::post(std::string_view path, const json& body) { return query("POST", path, body); }
base::Result<Response> Client::put(std::string_view path, const json& body) { return query("PUT", path, body); }
base::Result<Response> Client::patch(std::string_view path, const json& body) { return query("PATCH", path, body); }
base::Result<Response> Client::del(std::string_view path) { return query("DELETE", path); }

base::Result<apitypes::ServerInfo> Client::server_info() {
    LXM_TRY(auto md, get("/1.0"));
    return apitypes::parse_as<apitypes::ServerInfo>(md);
}

base::Result<apitypes::Operation> Client::wait_operation(std::string_view op, int timeout_s) {
    std::string url(op);
    if (!url.starts_with("/")) url = "/1.0/operations/" + url;
    url += "/wait?timeout=" + std::to_string(timeout_s);
    LXM_TRY(auto md, get(url));
    return apitypes::parse_as<apitypes::Operation>(md);
}

base::Result<apitypes::Operation> Client::wait_success(std::string_view op) {
    LXM_TRY(auto o, wait_operation(op, -1));
    if (o.status_code == apitypes::StatusCode::failure || o.status_code == apitypes::StatusCode::cancelled)
        return base::make_error(o.status_code == apitypes::StatusCode::cancelled ? std::errc::operation_canceled
                                                                                 : std::errc::io_error,
                                o.err.empty() ? o.status : o.err);
    return o;
}

base::Result<WebSocketConn> Client::websocket(std::string_view path) {
    auto impl = std::make_unique<WebSocketConn::Impl>();
    boost::system::error_code ec;
    LXM_TRY(auto stream, detail::open_stream(impl->io, impl_->ep));
    impl->ws.emplace(std::move(stream));
    impl->ws->set_option(beast::websocket::stream_base::decorator(
        [](beast::websocket::request_type& req) { req.set(http::field::user_agent, "lxm"); }));
    beast::websocket::response_type res;
    impl->ws->handshake(res, "lxd", std::string(path), ec);
    if (ec) {
        int status = static_cast<int>(res.result_int());
        if (status >= 400) {
            json j = json::parse(res.body(), nullptr, false);
            std::string msg = j.is_object() && j.contains("error") && j["error"].is_string()
                                  ? j["error"].get<std::string>()
                                  : "websocket " + std::string(path) + ": HTTP " + std::to_string(status);
            return apitypes::http_error(status, msg);
        }
        return std::unexpected(sys_error(ec, "websocket " + std::string(path)));
    }
    return WebSocketConn(std::move(impl));
}

}  // namespace lxm::client
