// Response: what a handler returns, in the LXD envelope (LXD-API.md §2.1).
//
// Handlers return base::Result<Response>; an error goes through
// apitypes::http_status_for() (the one error → HTTP table) into an error envelope.
// Besides plain bodies a Response can ask the server to
//   - upgrade the connection to a websocket and hand it over (Response::websocket), or
//   - finish later without holding an io thread (Response::later; e.g. operation /wait).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/api/websocket.hpp"
#include "lxm/apitypes/operation.hpp"
#include "lxm/base/error.hpp"

namespace lxm::api {

using json = nlohmann::json;
class Request;
struct Response;

// Called once, from any thread, with the final response.
using Completion = std::function<void(base::Result<Response>)>;
// Started on an io thread; must not block; must call the completion exactly once.
using Deferred = std::function<void(Completion)>;
// Called on an io thread with the accepted websocket; must not block.
using WebSocketHandler = std::function<void(WebSocket)>;

// A piece of a streamed body: bytes, or the whole content of a file.
struct BodyPart {
    std::string data{};
    std::string file{};
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    WebSocketHandler upgrade;  // set: answer with a websocket upgrade
    Deferred deferred;         // set: the real response comes later
    std::vector<BodyPart> stream;  // non-empty: the body is these parts, sent in chunks (body ignored)
    // Set: the body is produced while it is sent (chunked transfer, no Content-Length): run on
    // the blocking executor, it writes into fd (a pipe) and returns; an error, or the client
    // going away, ends the transfer without its last chunk (a truncated body, never a wrong one).
    std::function<base::Result<void>(int fd)> producer;

    // {"type":"sync","status":"Success","status_code":200,"metadata":m}
    static Response sync(json metadata);
    // The same with the metadata already serialized (one valid JSON value).
    static Response sync_dumped(std::string_view metadata);
    // sync + ETag header (quoted, as LXD sends it); etag from etag_hash().
    static Response sync_etag(json metadata, std::string_view etag);
    // sync with metadata {} (LXD's EmptySyncResponse).
    static Response empty();
    // 201 + Location, sync envelope (LXD's SyncResponseLocation, e.g. POST /1.0/profiles).
    static Response created(std::string location, json metadata = json::object());
    // 202 + Location: /1.0/operations/<id>, async envelope carrying the operation.
    static Response async(const apitypes::Operation& op);
    // {"type":"error","error":message,"error_code":status,"metadata":null}
    static Response error(int http_status, std::string message);
    static Response from_error(const base::Error& e);
    // Non-JSON body (file downloads, metrics).
    static Response raw(int status, std::string content_type, std::string body);
    // A body streamed from files and strings (image export); the Content-Length is their sum.
    static Response files(int status, std::string content_type, std::vector<BodyPart> parts);
    static Response websocket(WebSocketHandler handler);
    static Response later(Deferred d);

    Response& with_header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
};

// LXD's EtagHash: sha256 hex of the JSON of the resource's writable state.
std::string etag_hash(const json& state);
// If-Match present and different from etag_hash(current) → http 412 (LXD's EtagCheck).
base::Result<void> etag_check(const Request& req, const json& current);

}  // namespace lxm::api
