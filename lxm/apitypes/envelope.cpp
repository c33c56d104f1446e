#include "lxm/apitypes/envelope.hpp"

namespace lxm::apitypes {

Envelope Envelope::sync(json metadata) {
    return Envelope{"sync", "Success", 200, {}, 0, {}, std::move(metadata)};
}

Envelope Envelope::async(std::string operation_url, json operation) {
    return Envelope{"async", "Operation created", 100, std::move(operation_url), 0, {}, std::move(operation)};
}

Envelope Envelope::failure(int http_status, std::string message) {
    return Envelope{"error", "", 0, {}, http_status, std::move(message), nullptr};
}

void to_json(json& j, const Envelope& e) {
    if (e.type == "error") {
        j = json{{"type", "error"}, {"error", e.error}, {"error_code", e.error_code}, {"metadata", e.metadata}};
        return;
    }
    j = json{{"type", e.type}, {"status", e.status}, {"status_code", e.status_code}, {"metadata", e.metadata}};
    if (e.type == "async") j["operation"] = e.operation;
}

void from_json(const json& j, Envelope& e) {
    detail::require_object(j, "response");
    detail::read(j, "type", e.type);
    detail::read(j, "status", e.status);
    detail::read(j, "status_code", e.status_code);
    detail::read(j, "operation", e.operation);
    detail::read(j, "error_code", e.error_code);
    detail::read(j, "error", e.error);
    auto it = j.find("metadata");
    e.metadata = it == j.end() ? json(nullptr) : *it;
}

}  // namespace lxm::apitypes
