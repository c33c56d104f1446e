// Internal: the Beast implementation behind api::WebSocket, templated on the
// transport stream (plain unix-socket stream now, ssl_stream later). Only the
// .cpp files that accept websockets include this (it pulls in Beast).
#pragma once

#include <atomic>
#include <deque>
#include <memory>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "lxm/api/websocket.hpp"

namespace lxm::api::detail {

inline base::Error ws_error(const boost::system::error_code& ec, const char* what) {
    if (ec == boost::beast::websocket::error::closed)
        return base::Error{std::make_error_code(std::errc::not_connected), "websocket closed"};
    return base::Error{std::error_code(ec), what};
}

template <class Stream>
class WsImpl final : public WebSocket::Impl, public std::enable_shared_from_this<WsImpl<Stream>> {
public:
    explicit WsImpl(Stream&& s) : ws_(std::move(s)) {
        ws_.set_option(boost::beast::websocket::stream_base::timeout::suggested(boost::beast::role_type::server));
        ws_.read_message_max(64 * 1024 * 1024);
    }

    boost::beast::websocket::stream<Stream>& stream() { return ws_; }

    void async_read(std::function<void(base::Result<WsMessage>)> done) override {
        auto self = this->shared_from_this();
        boost::asio::dispatch(ws_.get_executor(), [self, done = std::move(done)]() mutable {
            self->ws_.async_read(self->rbuf_, [self, done = std::move(done)](boost::system::error_code ec, size_t) {
                if (ec) return done(std::unexpected(ws_error(ec, "websocket read")));
                WsMessage m{self->ws_.got_binary(), boost::beast::buffers_to_string(self->rbuf_.data())};
                self->rbuf_.consume(self->rbuf_.size());
                done(std::move(m));
            });
        });
    }

    void async_write(WsMessage m, std::function<void(base::Result<void>)> done) override {
        ++queued_;
        auto self = this->shared_from_this();
        boost::asio::post(ws_.get_executor(), [self, m = std::move(m), done = std::move(done)]() mutable {
            if (self->failed_ || self->close_sent_) {
                --self->queued_;
                if (done) done(base::make_error(std::errc::not_connected, "websocket closed"));
                return;
            }
            self->queue_.push_back(Item{std::move(m), std::move(done)});
            if (!self->writing_) self->write_next();
        });
    }

    void close() override {
        auto self = this->shared_from_this();
        boost::asio::post(ws_.get_executor(), [self] {
            self->close_requested_ = true;
            if (!self->writing_) self->write_next();
        });
    }

    void abort() override {
        auto self = this->shared_from_this();
        boost::asio::post(ws_.get_executor(), [self] {
            self->failed_ = true;
            boost::system::error_code ec;
            boost::beast::get_lowest_layer(self->ws_).socket().shutdown(boost::asio::socket_base::shutdown_both, ec);
            boost::beast::get_lowest_layer(self->ws_).socket().close(ec);
        });
    }

    size_t queued() const override { return queued_.load(); }

private:
    struct Item {
        WsMessage msg;
        std::function<void(base::Result<void>)> done;
    };

    void write_next() {
        if (failed_) return fail_queue();
        if (queue_.empty()) {
            if (close_requested_ && !close_sent_) {
                close_sent_ = true;
                auto self = this->shared_from_this();
                ws_.async_close(boost::beast::websocket::close_code::normal, [self](boost::system::error_code) {});
            }
            return;
        }
        writing_ = true;
        auto self = this->shared_from_this();
        ws_.binary(queue_.front().msg.binary);
        ws_.async_write(boost::asio::buffer(queue_.front().msg.data), [self](boost::system::error_code ec, size_t) {
            self->writing_ = false;
            Item item = std::move(self->queue_.front());
            self->queue_.pop_front();
            --self->queued_;
            if (ec) {
                self->failed_ = true;
                if (item.done) item.done(std::unexpected(ws_error(ec, "websocket write")));
                return self->fail_queue();
            }
            if (item.done) item.done({});
            self->write_next();
        });
    }

    void fail_queue() {
        while (!queue_.empty()) {
            Item item = std::move(queue_.front());
            queue_.pop_front();
            --queued_;
            if (item.done) item.done(base::make_error(std::errc::not_connected, "websocket closed"));
        }
    }

    boost::beast::websocket::stream<Stream> ws_;
    boost::beast::flat_buffer rbuf_;
    std::deque<Item> queue_;
    std::atomic<size_t> queued_{0};
    bool writing_ = false;
    bool close_requested_ = false;
    bool close_sent_ = false;
    bool failed_ = false;
};

}  // namespace lxm::api::detail
