#include "lxm/api/api.hpp"

namespace lxm::api {

Api::Api(ApiOptions opts) : opts_(std::move(opts)) {
    ex_ = std::make_unique<Executors>(opts_.executors);
    events_ = std::make_unique<EventHub>(opts_.events);
    opts_.operations.location = opts_.events.location;
    ops_ = std::make_unique<Operations>(*ex_, *events_, opts_.operations);
    register_server_routes(router_, info_);
    events_->register_routes(router_);
    ops_->register_routes(router_);
    server_ = std::make_unique<Server>(*ex_, router_, opts_.server);
}

Api::~Api() { stop(std::chrono::milliseconds(0)); }

base::Result<void> Api::listen_unix(const std::string& path) { return server_->listen_unix(path); }

base::Result<std::string> Api::listen_tls(const std::string& address, const TlsIdentity& id) {
    return server_->listen_tls(address, id);
}

void Api::close_tls() { server_->close_tls(); }

void Api::start() { ex_->start(); }

void Api::stop(std::chrono::milliseconds grace) {
    if (stopped_) return;
    stopped_ = true;
    ops_->shutdown();         // releases /wait callers, cancels work
    events_->close_all();
    server_->shutdown(grace);
    ex_->stop();              // joins io threads, then blocking threads after their work
}

}  // namespace lxm::api
