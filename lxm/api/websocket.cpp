#include "lxm/api/websocket.hpp"

#include <future>

namespace lxm::api {

void WebSocket::async_read(std::function<void(base::Result<WsMessage>)> done) {
    if (!impl_) return done(base::make_error(std::errc::bad_file_descriptor, "websocket not connected"));
    impl_->async_read(std::move(done));
}

void WebSocket::async_write(WsMessage m, std::function<void(base::Result<void>)> done) {
    if (!impl_) {
        if (done) done(base::make_error(std::errc::bad_file_descriptor, "websocket not connected"));
        return;
    }
    impl_->async_write(std::move(m), std::move(done));
}

base::Result<WsMessage> WebSocket::read() {
    auto p = std::make_shared<std::promise<base::Result<WsMessage>>>();
    auto f = p->get_future();
    async_read([p](base::Result<WsMessage> r) { p->set_value(std::move(r)); });
    return f.get();
}

base::Result<void> WebSocket::write(WsMessage m) {
    auto p = std::make_shared<std::promise<base::Result<void>>>();
    auto f = p->get_future();
    async_write(std::move(m), [p](base::Result<void> r) { p->set_value(std::move(r)); });
    return f.get();
}

void WebSocket::close() {
    if (impl_) impl_->close();
}

void WebSocket::abort() {
    if (impl_) impl_->abort();
}

size_t WebSocket::queued() const { return impl_ ? impl_->queued() : 0; }

bool WebSocket::is_closed(const base::Error& e) { return e.code == std::errc::not_connected; }

}  // namespace lxm::api
