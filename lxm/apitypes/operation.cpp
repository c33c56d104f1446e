#include "lxm/apitypes/operation.hpp"

namespace lxm::apitypes {
using detail::read;

void to_json(json& j, const Operation& v) {
    j = json{{"id", v.id},
             {"class", v.op_class},
             {"description", v.description},
             {"created_at", v.created_at},
             {"updated_at", v.updated_at},
             {"status", v.status},
             {"status_code", static_cast<int>(v.status_code)},
             {"resources", v.resources.empty() ? json(nullptr) : json(v.resources)},
             {"metadata", v.metadata},
             {"may_cancel", v.may_cancel},
             {"err", v.err},
             {"location", v.location}};
}

void from_json(const json& j, Operation& v) {
    detail::require_object(j, "operation");
    read(j, "id", v.id);
    read(j, "class", v.op_class);
    read(j, "description", v.description);
    read(j, "created_at", v.created_at);
    read(j, "updated_at", v.updated_at);
    read(j, "status", v.status);
    int code = static_cast<int>(v.status_code);
    read(j, "status_code", code);
    v.status_code = static_cast<StatusCode>(code);
    read(j, "resources", v.resources);
    auto it = j.find("metadata");
    v.metadata = it == j.end() ? json(nullptr) : *it;
    read(j, "may_cancel", v.may_cancel);
    read(j, "err", v.err);
    read(j, "location", v.location);
}

void to_json(json& j, const Event& v) {
    j = json{{"type", v.type},
             {"timestamp", v.timestamp},
             {"metadata", v.metadata},
             {"location", v.location},
             {"project", v.project}};
}

void from_json(const json& j, Event& v) {
    detail::require_object(j, "event");
    read(j, "type", v.type);
    read(j, "timestamp", v.timestamp);
    auto it = j.find("metadata");
    v.metadata = it == j.end() ? json(nullptr) : *it;
    read(j, "location", v.location);
    read(j, "project", v.project);
}

void to_json(json& j, const EventLifecycle& v) {
    j = json{{"action", v.action}, {"source", v.source}, {"context", v.context}};
    if (!v.requestor.empty()) j["requestor"] = v.requestor;
}

void from_json(const json& j, EventLifecycle& v) {
    detail::require_object(j, "lifecycle event");
    read(j, "action", v.action);
    read(j, "source", v.source);
    auto it = j.find("context");
    v.context = it == j.end() ? json(nullptr) : *it;
    read(j, "requestor", v.requestor);
}

}  // namespace lxm::apitypes
