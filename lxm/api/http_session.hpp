// Internal: one HTTP connection, as a coroutine templated on the stream type
// (beast::basic_stream over a unix socket, ssl_stream<tcp_stream> for HTTPS).
// Includes Beast: only server.cpp includes this file.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <vector>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>  // websocket teardown over ssl_stream
#include <boost/beast/websocket.hpp>

#include "lxm/api/executors.hpp"
#include "lxm/api/http_produced.hpp"
#include "lxm/api/router.hpp"
#include "lxm/api/server.hpp"
#include "lxm/api/websocket_impl.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::api::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

// Shared by all sessions of one Server.
struct SessionHub {
    Executors& ex;
    const Router& router;
    ServerOptions opts;

    struct Entry {
        std::function<void()> close;  // posts a close to the session's strand
        bool idle = true;
    };
    mutable std::mutex mu;
    std::map<uint64_t, Entry> sessions;
    uint64_t next_id = 1;
    bool stopping = false;

    SessionHub(Executors& e, const Router& r, ServerOptions o) : ex(e), router(r), opts(std::move(o)) {}

    uint64_t add(std::function<void()> close) {
        std::lock_guard lk(mu);
        auto id = next_id++;
        sessions[id] = Entry{std::move(close), true};
        return id;
    }
    void remove(uint64_t id) {
        std::lock_guard lk(mu);
        sessions.erase(id);
    }
    // Returns false when the server is stopping (the session should close).
    bool set_idle(uint64_t id, bool idle) {
        std::lock_guard lk(mu);
        if (auto it = sessions.find(id); it != sessions.end()) it->second.idle = idle;
        return !stopping;
    }
};

// Await a Deferred: the completion may come from any thread; the coroutine resumes on its executor.
template <typename Token>
auto async_deferred(Deferred d, Token&& token) {
    return asio::async_initiate<Token, void(Response)>(
        [d = std::move(d)](auto handler) mutable {
            using H = decltype(handler);
            struct Shared {
                H handler;
                asio::executor_work_guard<asio::associated_executor_t<H>> work;
                std::atomic<bool> done{false};
                explicit Shared(H&& h)
                    : handler(std::move(h)), work(asio::make_work_guard(asio::get_associated_executor(handler))) {}
            };
            auto sh = std::make_shared<Shared>(std::move(handler));
            d([sh](base::Result<Response> r) {
                if (sh->done.exchange(true)) return;  // completion called twice: ignore
                Response resp = r ? std::move(*r) : Response::from_error(r.error());
                auto ex = sh->work.get_executor();
                asio::post(ex, [sh, resp = std::move(resp)]() mutable {
                    std::move(sh->handler)(std::move(resp));
                    sh->work.reset();
                });
            });
        },
        token);
}

// The answer to a failed read of a request body piece; none when reading may go on
// (need_buffer only says the piece buffer is full).
inline std::optional<Response> body_read_error(boost::system::error_code ec, size_t limit) {
    if (!ec || ec == http::error::need_buffer) return std::nullopt;
    if (ec == http::error::body_limit)
        return Response::error(413, "request body too large (limit " + std::to_string(limit) + " bytes)");
    return Response::error(400, "request body: " + ec.message());
}

// How reading a request body in pieces ended.
struct BodyPieces {
    std::optional<Response> error;  // the answer to a body that could not be read
    bool complete = false;          // every byte of the body was read and handed over
    bool stopped = false;           // the consumer refused a piece (its own error is the answer)
};

// Reads a request body after its header into `piece` and hands each full piece, and the
// last, to `put` (a coroutine taking the bytes, false to stop). A body with a Content-Length
// is read straight from the stream: as much per read as the socket holds (Beast's parser
// reads at most 64 KiB at a time and copies each read once more into the body buffer); a
// chunked body goes through Beast's parser. The caller checked the length against the limit.
template <class Stream, class Put>
asio::awaitable<BodyPieces> read_body_pieces(Stream& stream, beast::flat_buffer& buffer,
                                             http::request_parser<http::string_body>& parser, size_t limit,
                                             std::chrono::seconds timeout, std::vector<char>& piece, Put& put) {
    BodyPieces out;
    size_t filled = 0;
    if (auto len = parser.content_length(); len && !parser.chunked()) {
        uint64_t left = *len;
        // Body bytes that arrived with the header, then the stream itself.
        while (left > 0) {
            size_t room = static_cast<size_t>(std::min<uint64_t>(left, piece.size() - filled));
            size_t n = 0;
            if (buffer.size() > 0) {
                n = asio::buffer_copy(asio::buffer(piece.data() + filled, room), buffer.data());
                buffer.consume(n);
            } else {
                beast::get_lowest_layer(stream).expires_after(timeout);
                auto [ec, got] = co_await stream.async_read_some(asio::buffer(piece.data() + filled, room),
                                                                 asio::as_tuple(asio::use_awaitable));
                if (ec) {
                    // A peer that closes early has sent an incomplete message.
                    out.error = body_read_error(ec == asio::error::eof ? http::error::partial_message : ec, limit);
                    co_return out;
                }
                n = got;
            }
            filled += n;
            left -= n;
            if (filled == piece.size() || (left == 0 && filled > 0)) {
                bool more = co_await put(std::string_view(piece.data(), filled));
                filled = 0;
                if (!more) {
                    out.stopped = true;
                    co_return out;
                }
            }
        }
        out.complete = true;
        co_return out;
    }
    http::request_parser<http::buffer_body> bp{std::move(parser)};
    bp.body_limit(limit);
    while (!bp.is_done()) {
        bp.get().body().data = piece.data() + filled;
        bp.get().body().size = piece.size() - filled;
        beast::get_lowest_layer(stream).expires_after(timeout);
        auto [ec, n] = co_await http::async_read_some(stream, buffer, bp, asio::as_tuple(asio::use_awaitable));
        (void)n;
        if (auto err = body_read_error(ec, limit)) {
            out.error = std::move(err);
            co_return out;
        }
        filled = piece.size() - bp.get().body().size;
        if (filled == piece.size() || (bp.is_done() && filled > 0)) {
            bool more = co_await put(std::string_view(piece.data(), filled));
            filled = 0;
            if (!more) {
                out.stopped = true;
                co_return out;
            }
        }
    }
    out.complete = true;
    co_return out;
}

// Runs fn() (returning T) on the blocking executor and resumes the awaiting coroutine on
// its own executor with the result.
template <typename T, typename Fn>
asio::awaitable<T> on_blocking(Executors& ex, Fn fn) {
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(T)>(
        [&ex, fn = std::move(fn)](auto handler) mutable {
            using H = decltype(handler);
            struct Shared {
                H handler;
                asio::executor_work_guard<asio::associated_executor_t<H>> work;
                explicit Shared(H&& h)
                    : handler(std::move(h)), work(asio::make_work_guard(asio::get_associated_executor(handler))) {}
            };
            auto sh = std::make_shared<Shared>(std::move(handler));
            ex.post_blocking([sh, fn = std::move(fn)]() mutable {
                T r = fn();
                auto e = sh->work.get_executor();
                asio::post(e, [sh, r = std::move(r)]() mutable {
                    std::move(sh->handler)(std::move(r));
                    sh->work.reset();
                });
            });
        },
        asio::use_awaitable);
}

// A body of known length on a plain socket, moved into a pipe by splice(2) on a blocking
// thread: no copy through user space and one wake-up per splice, not per 64 KiB read of
// an Asio/Beast operation (whose bookkeeping cost more CPU than the bytes themselves).
// (Plain server sockets are unix sockets, which splice since Linux 4.2.)
template <class Stream>
asio::awaitable<BodyPieces> splice_body(Stream& stream, beast::flat_buffer& buffer, uint64_t length, size_t limit,
                                        SessionHub& hub, asio::posix::stream_descriptor& pipe) {
    BodyPieces out;
    // Body bytes that arrived with the header go first.
    if (size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length)); n > 0) {
        auto [wec, wn] = co_await asio::async_write(pipe, beast::buffers_prefix(n, buffer.data()),
                                                    asio::as_tuple(asio::use_awaitable));
        (void)wn;
        buffer.consume(n);
        length -= n;
        if (wec) {
            out.stopped = true;
            co_return out;
        }
    }
    enum class End { done, peer_closed, timeout, reader_gone, failed };
    struct Moved {
        End end = End::done;
        int err = 0;
    };
    const int sock = beast::get_lowest_layer(stream).socket().native_handle();
    const int pfd = pipe.native_handle();
    const int timeout_ms = static_cast<int>(std::chrono::milliseconds(hub.opts.body_timeout).count());
    // Both fds are non-blocking (Asio's): wait with poll for room in the pipe, then for data.
    Moved m = co_await on_blocking<Moved>(hub.ex, [sock, pfd, length, timeout_ms]() -> Moved {
        uint64_t left = length;
        while (left > 0) {
            ssize_t n = ::splice(sock, nullptr, pfd, nullptr, static_cast<size_t>(std::min<uint64_t>(left, 1 << 20)),
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                left -= static_cast<uint64_t>(n);
                continue;
            }
            if (n == 0) return {End::peer_closed, 0};
            if (errno == EINTR) continue;
            if (errno == EPIPE) return {End::reader_gone, 0};
            if (errno != EAGAIN) return {End::failed, errno};
            pollfd room{pfd, POLLOUT, 0};
            int r = ::poll(&room, 1, timeout_ms);
            if (r == 0) return {End::timeout, 0};
            if (r > 0 && (room.revents & POLLERR)) return {End::reader_gone, 0};
            pollfd data{sock, POLLIN, 0};
            r = ::poll(&data, 1, timeout_ms);
            if (r == 0) return {End::timeout, 0};
        }
        return {End::done, 0};
    });
    switch (m.end) {
    case End::done: out.complete = true; break;
    case End::reader_gone: out.stopped = true; break;
    case End::peer_closed: out.error = body_read_error(http::error::partial_message, limit); break;
    case End::timeout: out.error = body_read_error(beast::error::timeout, limit); break;
    case End::failed:
        out.error = body_read_error(boost::system::error_code(m.err, boost::system::system_category()), limit);
        break;
    }
    co_return out;
}

inline std::string lower(std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

// A streamed body (Response::stream): the header with the total length, then each
// part in chunks, files read as they are sent.
template <class Stream>
asio::awaitable<void> write_streamed(Stream& stream, SessionHub& hub, const Response& resp, unsigned version,
                                     bool keep_alive, boost::system::error_code& ec) {
    std::vector<base::UniqueFd> fds(resp.stream.size());
    std::vector<uint64_t> sizes(resp.stream.size());
    uint64_t total = 0;
    for (size_t i = 0; i < resp.stream.size(); ++i) {
        const auto& p = resp.stream[i];
        if (p.file.empty()) {
            sizes[i] = p.data.size();
        } else {
            int fd = ::open(p.file.c_str(), O_RDONLY | O_CLOEXEC);
            struct stat st;
            if (fd < 0 || ::fstat(fd, &st) != 0) {
                if (fd >= 0) ::close(fd);
                LXM_WARN("api: cannot send {}: {}", p.file, std::strerror(errno));
                ec = asio::error::not_found;
                co_return;
            }
            fds[i].reset(fd);
            sizes[i] = static_cast<uint64_t>(st.st_size);
        }
        total += sizes[i];
    }
    http::response<http::empty_body> res{static_cast<http::status>(resp.status), version};
    res.set(http::field::server, "lxm");
    res.set(http::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) res.set(k, v);
    res.content_length(total);
    res.keep_alive(keep_alive);
    http::response_serializer<http::empty_body> sr{res};
    beast::get_lowest_layer(stream).expires_after(hub.opts.write_timeout);
    std::tie(ec, std::ignore) = co_await http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    std::vector<char> buf(1 << 20);
    for (size_t i = 0; i < resp.stream.size(); ++i) {
        const auto& p = resp.stream[i];
        if (p.file.empty()) {
            beast::get_lowest_layer(stream).expires_after(hub.opts.write_timeout);
            std::tie(ec, std::ignore) =
                co_await asio::async_write(stream, asio::buffer(p.data), asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            continue;
        }
        uint64_t left = sizes[i];
        while (left > 0) {
            auto n = base::read_some(fds[i].get(), buf.data(), static_cast<size_t>(std::min<uint64_t>(left, buf.size())));
            if (!n || *n == 0) {  // the file shrank or failed: the promised length cannot be kept
                ec = asio::error::broken_pipe;
                co_return;
            }
            left -= *n;
            beast::get_lowest_layer(stream).expires_after(hub.opts.write_timeout);
            std::tie(ec, std::ignore) =
                co_await asio::async_write(stream, asio::buffer(buf.data(), *n), asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
        }
    }
}

template <class Stream>
asio::awaitable<void> write_response(Stream& stream, SessionHub& hub, const Response& resp, unsigned version,
                                     bool keep_alive, boost::system::error_code& ec) {
    if (!resp.stream.empty()) {
        co_await write_streamed(stream, hub, resp, version, keep_alive, ec);
        co_return;
    }
    if (resp.producer) {
        co_await write_produced(stream, hub, resp, version, keep_alive, ec);
        co_return;
    }
    http::response<http::string_body> res{static_cast<http::status>(resp.status), version};
    res.set(http::field::server, "lxm");
    res.set(http::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) res.set(k, v);
    res.body() = resp.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(hub.opts.write_timeout);
    std::tie(ec, std::ignore) = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
}

// Runs the handler chain for one request: blocking routes hop to the blocking
// executor; deferred responses are awaited.
inline asio::awaitable<Response> dispatch(SessionHub& hub, const Route& route, const Request& req) {
    Response resp;
    if (route.blocking) {
        auto& ex = hub.ex;
        resp = co_await async_deferred(
            [&ex, &route, &req](Completion done) {
                ex.post_blocking([&route, &req, done] { done(invoke(route, req)); });
            },
            asio::use_awaitable);
    } else {
        resp = invoke(route, req);
    }
    while (resp.deferred) {
        Deferred d = std::move(resp.deferred);
        resp.deferred = nullptr;
        resp = co_await async_deferred(std::move(d), asio::use_awaitable);
    }
    co_return resp;
}

template <class Stream>
asio::awaitable<void> run_session(std::shared_ptr<SessionHub> hub, Stream stream, Peer peer) {
    // The shutdown closer reaches the stream through this pointer; it runs on the
    // session's strand, like this coroutine, which clears the pointer before the stream goes away.
    auto stream_ref = std::make_shared<Stream*>(&stream);
    auto ex = stream.get_executor();
    uint64_t id = hub->add([ex, stream_ref] {
        asio::post(ex, [stream_ref] {
            if (Stream* s = *stream_ref) {
                boost::system::error_code ec;
                beast::get_lowest_layer(*s).socket().shutdown(asio::socket_base::shutdown_both, ec);
                beast::get_lowest_layer(*s).cancel();
            }
        });
    });
    struct Exit {
        SessionHub& hub;
        uint64_t id;
        std::shared_ptr<Stream*> ref;
        ~Exit() {
            *ref = nullptr;
            hub.remove(id);
        }
    } exit_guard{*hub, id, stream_ref};

    beast::flat_buffer buffer;
    for (;;) {
        if (!hub->set_idle(id, true)) break;
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(hub->opts.header_limit));
        parser.body_limit(boost::none);  // checked per route once the header is known
        beast::get_lowest_layer(stream).expires_after(hub->opts.header_timeout);
        auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        (void)n;
        hub->set_idle(id, false);
        boost::system::error_code wec;
        if (ec == http::error::header_limit) {
            co_await write_response(stream, *hub, Response::error(431, "request headers too large"), 11, false, wec);
            break;
        }
        if (ec) {
            if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted && ec != beast::error::timeout &&
                ec != asio::error::eof && ec != asio::error::connection_reset)
                LXM_DEBUG("api: read header: {}", ec.message());
            break;
        }

        // Per request, not per connection: a certificate removed from the trust store loses access at once.
        const bool trusted = hub->opts.trust ? hub->opts.trust(peer) : peer.kind == Peer::Kind::unix_socket;
        auto& hreq = parser.get();
        const unsigned version = hreq.version();
        bool keep_alive = hreq.keep_alive();
        Request req;
        req.method = std::string(hreq.method_string());
        req.target = std::string(hreq.target());
        req.peer = peer;
        req.trusted = trusted;
        for (auto& f : hreq) req.headers[lower(f.name_string())] = std::string(f.value());
        std::string_view target = req.target;
        auto qpos = target.find('?');
        std::string_view raw_path = target.substr(0, qpos);
        if (qpos != std::string_view::npos) req.query = parse_query(target.substr(qpos + 1));

        Response resp;
        const Route* route = nullptr;
        bool to_file = false;  // the body goes into a file (Route::body_to_dir)
        size_t limit = 0;      // the body limit that applies to this request
        bool body_complete = parser.is_done();
        auto m = hub->router.match(req.method, raw_path);
        if (!m) {
            resp = Response::from_error(m.error());
        } else if (!trusted && !m->route->allow_untrusted) {
            resp = Response::error(403, "not authorized");
        } else {
            route = m->route;
            req.path = std::move(m->canonical_path);
            req.params = std::move(m->params);
            req.alias_prefix = std::move(m->alias_prefix);
            to_file = !route->body_to_dir.empty() && !req.header("content-type").starts_with("application/json");
            limit = !route->body_to_dir.empty() && !to_file && route->json_body_limit ? route->json_body_limit
                                                                                       : route->body_limit;
            parser.body_limit(limit);
            // Beast checks Content-Length against the limit while parsing the header, which
            // was read under the default limit; check the declared length here.
            if (parser.content_length() && *parser.content_length() > limit) {
                resp = Response::error(413, "request body too large (limit " + std::to_string(limit) + " bytes)");
                route = nullptr;
            } else if (to_file && route->body_sink && req.header("content-type").starts_with("application/octet-stream")) {
                // Streamed into the route's sink as it arrives (a backup import unpacked on the fly).
                auto sink = route->body_sink(req);
                if (!sink) {
                    resp = Response::from_error(sink.error());
                    route = nullptr;
                    keep_alive = false;
                } else {
                    req.body_state = std::move(sink->state);
                    int pfd = sink->fd.release();
                    ::fcntl(pfd, F_SETFL, ::fcntl(pfd, F_GETFL) | O_NONBLOCK);
                    asio::posix::stream_descriptor pipe(co_await asio::this_coro::executor, pfd);
                    auto put = [&pipe](std::string_view data) -> asio::awaitable<bool> {
                        auto [wec, wn] = co_await asio::async_write(pipe, asio::buffer(data.data(), data.size()),
                                                                    asio::as_tuple(asio::use_awaitable));
                        (void)wn;
                        co_return !wec;  // an error: the reader stopped, and its error is the answer
                    };
                    constexpr bool plain =
                        std::is_same_v<Stream, std::remove_cvref_t<decltype(beast::get_lowest_layer(stream))>>;
                    auto len = parser.content_length();
                    BodyPieces got;
                    if (plain && len && !parser.chunked()) {
                        got = co_await splice_body(stream, buffer, *len, limit, *hub, pipe);
                    } else {
                        // 1 MiB pieces (the pipe's size): the reader wakes once per piece, not per socket read.
                        std::vector<char> chunk(1 << 20);
                        got = co_await read_body_pieces(stream, buffer, parser, limit, hub->opts.body_timeout, chunk,
                                                        put);
                    }
                    const bool failed = got.error.has_value();
                    if (failed) resp = std::move(*got.error);
                    boost::system::error_code cec;
                    pipe.close(cec);  // the end of the body for the reader
                    body_complete = got.complete;
                    req.body_complete = got.complete;
                    if (failed) {
                        route = nullptr;
                        keep_alive = false;
                    }
                }
            } else if (to_file) {
                // Streamed into a file, chunk by chunk (uploads of images may be gigabytes).
                std::string tmpl = route->body_to_dir + "/.tmp-upload-XXXXXX";
                std::vector<char> name(tmpl.begin(), tmpl.end());
                name.push_back('\0');
                int fd = ::mkostemp(name.data(), O_CLOEXEC);
                if (fd < 0) {
                    resp = Response::error(500, "cannot store the request body: " + std::string(std::strerror(errno)));
                    route = nullptr;
                    keep_alive = false;
                } else {
                    base::UniqueFd out(fd);
                    req.body_file = name.data();
                    std::vector<char> chunk(1 << 20);
                    std::optional<Response> write_error;
                    auto put = [&](std::string_view data) -> asio::awaitable<bool> {
                        if (base::write_all(fd, data)) co_return true;
                        write_error = Response::error(500, "cannot store the request body: " +
                                                               std::string(std::strerror(errno)));
                        co_return false;
                    };
                    BodyPieces got = co_await read_body_pieces(stream, buffer, parser, limit, hub->opts.body_timeout,
                                                               chunk, put);
                    const bool failed = !got.complete;
                    if (got.error) resp = std::move(*got.error);
                    else if (write_error) resp = std::move(*write_error);
                    body_complete = got.complete;
                    if (failed) {
                        ::unlink(req.body_file.c_str());
                        req.body_file.clear();
                        route = nullptr;
                        keep_alive = false;
                    }
                }
            } else if (!parser.is_done()) {
                beast::get_lowest_layer(stream).expires_after(hub->opts.body_timeout);
                auto [bec, bn] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
                (void)bn;
                if (bec == http::error::body_limit) {
                    resp = Response::error(413, "request body too large (limit " + std::to_string(limit) + " bytes)");
                    route = nullptr;
                } else if (bec) {
                    break;
                }
            }
            if (route && !to_file) body_complete = parser.is_done();
            if (route) {
                if (!to_file) req.body = std::move(parser.get().body());
                if (auto f = req.query.find("filter"); f != req.query.end() && !f->second.empty()) {
                    auto pf = parse_filter(f->second);
                    if (!pf) {
                        resp = Response::from_error(pf.error());
                        route = nullptr;
                    } else {
                        req.filter = std::move(*pf);
                    }
                }
            }
            if (route) resp = co_await dispatch(*hub, *route, req);
            if (!req.body_file.empty()) ::unlink(req.body_file.c_str());  // unless the handler took it
            // A sink's state may wait for its reader and remove files when it goes: not on an io thread.
            if (req.body_state) hub->ex.post_blocking([st = std::move(req.body_state)]() mutable { st.reset(); });
        }
        if (!body_complete) keep_alive = false;  // unread body: cannot reuse the connection

        if (resp.upgrade) {
            if (!beast::websocket::is_upgrade(hreq)) {
                resp = Response::error(400, "websocket upgrade required");
            } else {
                beast::get_lowest_layer(stream).expires_never();
                *stream_ref = nullptr;
                auto ws = std::make_shared<WsImpl<Stream>>(std::move(stream));
                auto [aec] = co_await ws->stream().async_accept(hreq, asio::as_tuple(asio::use_awaitable));
                if (aec) {
                    LXM_DEBUG("api: websocket accept: {}", aec.message());
                    co_return;
                }
                try {
                    resp.upgrade(WebSocket(ws));
                } catch (const std::exception& e) {
                    LXM_ERROR("websocket handler for {} threw: {}", req.path, e.what());
                }
                co_return;  // the stream now belongs to the websocket
            }
        }
        if (!hub->set_idle(id, false)) keep_alive = false;
        co_await write_response(stream, *hub, resp, version, keep_alive, wec);
        if (wec || !keep_alive) break;
    }
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(asio::socket_base::shutdown_send, ec);
    beast::get_lowest_layer(stream).close();
}

}  // namespace lxm::api::detail
