// EventHub: GET /1.0/events (websocket) and the broadcast of events to every
// subscriber (LXD-API.md §2.1/§2.2: the CLI subscribes *before* it sends the
// request it will wait on, and filters operation events by id).
//
// emit*() never blocks: each subscriber has a bounded send queue; one that
// falls max_queue messages behind is dropped (connection aborted), the daemon
// goes on. Frames are text, one JSON Event each.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "lxm/api/websocket.hpp"
#include "lxm/apitypes/operation.hpp"

namespace lxm::api {

class Router;

struct EventHubOptions {
    size_t max_queue = 512;           // per subscriber, in messages
    std::string location = "none";    // cluster member name; "none" when not clustered
};

class EventHub {
public:
    explicit EventHub(EventHubOptions opts = {});
    ~EventHub();  // close_all()
    EventHub(const EventHub&) = delete;
    EventHub& operator=(const EventHub&) = delete;

    // types: "operation", "lifecycle", "logging"; empty = all. project: "" = all projects.
    void subscribe(WebSocket ws, std::set<std::string> types, std::string project = {});
    // In-process listener (called synchronously from emit; must be quick). Returns an id for unlisten.
    uint64_t listen(std::function<void(const apitypes::Event&)> fn);
    void unlisten(uint64_t id);

    void emit(apitypes::Event ev);
    void emit_operation(const apitypes::Operation& op, const std::string& project = "default");
    // e.g. emit_lifecycle("instance-started", "/1.0/instances/c1", {{"action","start"}})
    void emit_lifecycle(std::string action, std::string source, nlohmann::json context = nullptr,
                        const std::string& project = "default");
    void emit_logging(std::string level, std::string message, nlohmann::json context = nullptr);

    size_t subscribers() const;
    void close_all();

    // GET /1.0/events?type=operation,lifecycle,logging[&project=p|&all-projects=true]
    void register_routes(Router& r);

    struct State;

private:
    std::shared_ptr<State> s_;
};

}  // namespace lxm::api
