// Api: the API side of lxmd in one object — executors, endpoint table, server,
// operations and events, wired together with the core routes (/, /1.0,
// /1.0/events, /1.0/operations/...).
//
//   api::Api api;
//   api.server_info().extensions.push_back("instances");
//   register_instance_routes(api.router(), ..., api.operations(), api.events());
//   LXM_TRY_VOID(api.listen_unix("/var/lib/lxm/unix.socket"));
//   api.start();
//   ... wait for SIGTERM ...
//   api.stop();
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "lxm/api/events.hpp"
#include "lxm/api/executors.hpp"
#include "lxm/api/operations.hpp"
#include "lxm/api/router.hpp"
#include "lxm/api/server.hpp"
#include "lxm/api/server_info.hpp"

namespace lxm::api {

struct ApiOptions {
    ExecutorOptions executors;
    ServerOptions server;
    OperationsOptions operations;
    EventHubOptions events;
};

class Api {
public:
    explicit Api(ApiOptions opts = {});
    ~Api();  // stop()
    Api(const Api&) = delete;
    Api& operator=(const Api&) = delete;

    Router& router() { return router_; }
    Operations& operations() { return *ops_; }
    EventHub& events() { return *events_; }
    Executors& executors() { return *ex_; }
    ServerInfoSource& server_info() { return info_; }

    // Add routes before listening; the table is read concurrently afterwards.
    base::Result<void> listen_unix(const std::string& path);
    // HTTPS (Server::listen_tls / close_tls); may be called while running.
    base::Result<std::string> listen_tls(const std::string& address, const TlsIdentity& id);
    void close_tls();
    void start();
    // Stop accepting, end event streams, cancel operations, drain requests (up to grace), stop threads.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

private:
    ApiOptions opts_;
    ServerInfoSource info_;
    Router router_;
    std::unique_ptr<Executors> ex_;
    std::unique_ptr<EventHub> events_;
    std::unique_ptr<Operations> ops_;
    std::unique_ptr<Server> server_;
    bool stopped_ = false;
};

}  // namespace lxm::api
