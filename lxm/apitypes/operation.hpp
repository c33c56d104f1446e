// Operation and Event objects (lxd:shared/api/operation.go, event.go).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lxm/apitypes/json_util.hpp"
#include "lxm/apitypes/status.hpp"
#include "lxm/apitypes/time.hpp"

namespace lxm::apitypes {

struct Operation {
    std::string id;
    std::string op_class = "task";  // wire "class": "task" | "websocket" | "token"
    std::string description;
    Timestamp created_at = zero_time();
    Timestamp updated_at = zero_time();
    std::string status = "Pending";
    StatusCode status_code = StatusCode::pending;
    // e.g. {"instances": ["/1.0/instances/c1"]}; rendered null when empty, as LXD does.
    std::map<std::string, std::vector<std::string>> resources;
    json metadata;  // null or object
    bool may_cancel = false;
    std::string err;
    std::string location = "none";  // cluster member; "none" when not clustered
};

void to_json(json& j, const Operation& v);
void from_json(const json& j, Operation& v);

struct Event {
    std::string type;  // "operation" | "lifecycle" | "logging"
    Timestamp timestamp = zero_time();
    json metadata;
    std::string location = "none";
    std::string project;
};

void to_json(json& j, const Event& v);
void from_json(const json& j, Event& v);

// metadata of a lifecycle event (lxd:shared/api/event.go EventLifecycle).
struct EventLifecycle {
    std::string action;   // e.g. "instance-started"
    std::string source;   // e.g. "/1.0/instances/c1"
    json context;         // null or object
    std::string requestor;  // optional; omitted when empty
};

void to_json(json& j, const EventLifecycle& v);
void from_json(const json& j, EventLifecycle& v);

}  // namespace lxm::apitypes
