// Internal (included by http_session.hpp only): a response body produced while it is
// sent (Response::producer), e.g. a backup tarball built on the fly from a snapshot.
//
// The producer runs on the blocking executor and writes into a pipe; the session
// reads the other end on its own executor and sends each read as one HTTP chunk.
// Success ends with the last chunk; a producer error or a failed write ends the
// connection without it, so the client sees a truncated transfer, never a body
// that looks complete. A client that goes away closes the read end: the producer's
// next write fails with EPIPE (lxmd ignores SIGPIPE) and it stops.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "lxm/api/response.hpp"
#include "lxm/base/log.hpp"

namespace lxm::api::detail {

template <class Stream, class Hub>
boost::asio::awaitable<void> write_produced(Stream& stream, Hub& hub, const Response& resp, unsigned version,
                                            bool keep_alive, boost::system::error_code& ec) {
    namespace asio = boost::asio;
    namespace beast = boost::beast;
    namespace http = boost::beast::http;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
        ec = boost::system::error_code(errno, boost::system::system_category());
        co_return;
    }
    // 1 MiB of pipe (default 64 KiB): the session reads, and sends as one chunk, up to 1 MiB
    // per wake-up instead of 64 KiB (best effort: the default size also works).
    (void)::fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    struct Shared {
        std::atomic<bool> ok{false};
        std::string error;
    };
    auto shared = std::make_shared<Shared>();
    asio::posix::stream_descriptor in(stream.get_executor(), p[0]);
    int wfd = p[1];
    auto producer = resp.producer;
    hub.ex.post_blocking([producer, wfd, shared] {
        base::Result<void> r;
        try {
            r = producer(wfd);
        } catch (const std::exception& e) {
            r = base::make_error(std::errc::io_error, e.what());
        }
        if (r) shared->ok = true;
        else LXM_WARN("api: streamed body failed: {}", r.error().message());
        ::close(wfd);  // EOF for the reader, after ok is set
    });

    http::response<http::empty_body> res{static_cast<http::status>(resp.status), version};
    res.set(http::field::server, "lxm");
    res.set(http::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) res.set(k, v);
    res.chunked(true);
    res.keep_alive(keep_alive);
    http::response_serializer<http::empty_body> sr{res};
    beast::get_lowest_layer(stream).expires_after(hub.opts.write_timeout);
    std::tie(ec, std::ignore) = co_await http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // `in` closes: the producer stops at its next write
    std::vector<char> buf(1 << 20);
    for (;;) {
        auto [rec, n] = co_await in.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (rec == asio::error::eof) break;
        if (rec) {
            ec = rec;
            co_return;
        }
        beast::get_lowest_layer(stream).expires_after(hub.opts.write_timeout);
        std::tie(ec, std::ignore) = co_await asio::async_write(
            stream, http::make_chunk(asio::buffer(buf.data(), n)), asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
    }
    if (!shared->ok) {
        ec = asio::error::broken_pipe;  // no last chunk: the client sees the body cut short
        co_return;
    }
    beast::get_lowest_layer(stream).expires_after(hub.opts.write_timeout);
    std::tie(ec, std::ignore) =
        co_await asio::async_write(stream, http::make_chunk_last(), asio::as_tuple(asio::use_awaitable));
}

}  // namespace lxm::api::detail
