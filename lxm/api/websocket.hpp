// WebSocket: a shared handle to one accepted server-side websocket, usable by
// handler code (events, exec, console, migration) without Beast headers.
//
// Threading: every method may be called from any thread. Callbacks run on the
// socket's own io strand and must not block; blocking work belongs on the
// blocking executor, where read()/write() (the blocking forms) may be used.
// Never call read()/write() from an io thread.
//
// Reads: at most one read in flight (issue the next async_read from the
// completion). Writes: queued and sent in order; queued() tells how many are
// waiting, so producers can apply backpressure or drop a slow peer.
// A clean close by the peer is reported as errc::not_connected ("websocket closed").
// LXD conventions: data frames are binary; an empty text frame is the
// end-of-stream "barrier" (LXD-API.md §2.4).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "lxm/base/error.hpp"

namespace lxm::api {

struct WsMessage {
    bool binary = true;
    std::string data;
};

class WebSocket {
public:
    // Implemented per transport in websocket_impl.hpp (internal, includes Beast).
    class Impl {
    public:
        virtual ~Impl() = default;
        virtual void async_read(std::function<void(base::Result<WsMessage>)> done) = 0;
        virtual void async_write(WsMessage m, std::function<void(base::Result<void>)> done) = 0;
        virtual void close() = 0;
        virtual void abort() = 0;
        virtual size_t queued() const = 0;
    };

    WebSocket() = default;
    explicit WebSocket(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

    explicit operator bool() const noexcept { return impl_ != nullptr; }

    void async_read(std::function<void(base::Result<WsMessage>)> done);
    void async_write(WsMessage m, std::function<void(base::Result<void>)> done = {});
    // Blocking forms (blocking executor only).
    base::Result<WsMessage> read();
    base::Result<void> write(WsMessage m);
    // Send a close frame after the queued writes; idempotent.
    void close();
    // Drop the connection now (no close handshake); queued writes fail. For peers that stopped reading.
    void abort();
    size_t queued() const;

    // True for the error read() returns after the peer closed cleanly.
    static bool is_closed(const base::Error& e);

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace lxm::api
