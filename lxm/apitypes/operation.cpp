#include "lxm/apitypes/operation.hpp"

namespace lxm::apitypes {
using detail::field;
using detail::read;
using detail::read_fields;
using detail::write_fields;

namespace {
// status_code, resources and metadata are handled by hand (enum as int, empty resources as null, metadata kept raw).
const auto kOperation = std::tuple{field("id", &Operation::id),
                                   field("class", &Operation::op_class),
                                   field("description", &Operation::description),
                                   field("created_at", &Operation::created_at),
                                   field("updated_at", &Operation::updated_at),
                                   field("status", &Operation::status),
                                   field("may_cancel", &Operation::may_cancel),
                                   field("err", &Operation::err),
                                   field("location", &Operation::location)};
}  // namespace

void to_json(json& j, const Operation& v) {
    write_fields(j, v, kOperation);
    j["status_code"] = static_cast<int>(v.status_code);
    j["resources"] = v.resources.empty() ? json(nullptr) : json(v.resources);
    j["metadata"] = v.metadata;
}

void from_json(const json& j, Operation& v) {
    read_fields(j, v, kOperation, "operation");
    int code = static_cast<int>(v.status_code);
    read(j, "status_code", code);
    v.status_code = static_cast<StatusCode>(code);
    read(j, "resources", v.resources);
    auto it = j.find("metadata");
    v.metadata = it == j.end() ? json(nullptr) : *it;
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
