#include "lxm/api/response.hpp"

#include <openssl/evp.h>

#include "lxm/api/request.hpp"
#include "lxm/apitypes/envelope.hpp"
#include "lxm/apitypes/http_error.hpp"

namespace lxm::api {

Response Response::sync(json metadata) { return sync_dumped(metadata.dump()); }

Response Response::sync_dumped(std::string_view metadata) {
    // What json(Envelope::sync(m)).dump() writes (keys in nlohmann's sorted order), without
    // copying m into an envelope tree first: a list of 1000 instances is megabytes of nodes.
    static constexpr std::string_view head = "{\"metadata\":";
    static constexpr std::string_view tail = ",\"status\":\"Success\",\"status_code\":200,\"type\":\"sync\"}";
    Response r;
    r.body.reserve(head.size() + metadata.size() + tail.size());
    r.body.append(head).append(metadata).append(tail);
    return r;
}

Response Response::sync_etag(json metadata, std::string_view etag) {
    auto r = sync(std::move(metadata));
    r.headers.emplace_back("ETag", "\"" + std::string(etag) + "\"");
    return r;
}

Response Response::empty() { return sync(json::object()); }

Response Response::created(std::string location, json metadata) {
    auto r = sync(std::move(metadata));
    r.status = 201;
    r.headers.emplace_back("Location", std::move(location));
    return r;
}

Response Response::async(const apitypes::Operation& op) {
    std::string url = "/1.0/operations/" + op.id;
    Response r;
    r.status = 202;
    r.body = json(apitypes::Envelope::async(url, json(op))).dump();
    r.headers.emplace_back("Location", url);
    return r;
}

Response Response::error(int http_status, std::string message) {
    Response r;
    r.status = http_status;
    r.body = json(apitypes::Envelope::failure(http_status, std::move(message))).dump();
    return r;
}

Response Response::from_error(const base::Error& e) {
    return error(apitypes::http_status_for(e), apitypes::user_message(e));
}

Response Response::raw(int status, std::string content_type, std::string body) {
    Response r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
}

Response Response::files(int status, std::string content_type, std::vector<BodyPart> parts) {
    Response r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.stream = std::move(parts);
    return r;
}

Response Response::websocket(WebSocketHandler handler) {
    Response r;
    r.upgrade = std::move(handler);
    return r;
}

Response Response::later(Deferred d) {
    Response r;
    r.deferred = std::move(d);
    return r;
}

std::string etag_hash(const json& state) {
    std::string data = state.dump();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

base::Result<void> etag_check(const Request& req, const json& current) {
    std::string match = req.header("if-match");
    if (match.empty()) return {};
    if (match.size() >= 2 && match.front() == '"' && match.back() == '"') match = match.substr(1, match.size() - 2);
    std::string hash = etag_hash(current);
    if (match != hash) return apitypes::http_error(412, "ETag doesn't match: " + hash + " vs " + match);
    return {};
}

}  // namespace lxm::api
