// Router: the endpoint table of lxmd.
//
// Plugging a resource in (e.g. lxm/api/instances.cpp, written later):
//
//   void register_instance_routes(Router& r, core::Instances& inst, Operations& ops) {
//       r.get("/1.0/instances", [&](const Request& req) -> base::Result<Response> {
//           ... req.recursion(), req.filter, req.project() ...
//           return Response::sync(list);
//       });
//       r.add("PUT", "/1.0/instances/{name}/state", {
//           .handler = [&](const Request& req) -> base::Result<Response> {
//               LXM_TRY(auto put, req.body_as<apitypes::InstanceStatePut>());   // 400 on bad JSON
//               LXM_TRY(auto op, ops.create({.description = "Starting instance", ...,
//                                            .run = [..](OperationContext& ctx) { ... }}));
//               return Response::async(op->snapshot());
//           },
//           .blocking = false,          // true: runs on the blocking executor (slow kernel work)
//           .body_limit = 1 << 20});
//   }
//
// Patterns are literal segments and {captures} (one url-decoded segment each);
// the most literal match wins. A trailing slash is ignored. Aliases rewrite a
// prefix before matching: the default table maps /1.0/containers → /1.0/instances,
// so one handler serves both (Request::alias_prefix / Request::url() render URLs back).
// Unknown path → 404, known path with another method → 405 (+ Allow), untrusted
// caller on a route without allow_untrusted → 403 — all as LXD error envelopes.
// Fill the table before the server starts; it is read concurrently afterwards.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/api/request.hpp"
#include "lxm/api/response.hpp"
#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::api {

using Handler = std::function<base::Result<Response>(const Request&)>;

inline constexpr size_t kDefaultBodyLimit = 16 * 1024 * 1024;

struct Route {
    Handler handler{};
    bool allow_untrusted = false;  // reachable without trust (LXD's AllowUntrusted)
    bool blocking = false;         // run the handler on the blocking executor
    size_t body_limit = kDefaultBodyLimit;
    // Non-empty: the body is streamed into a new file in this directory (never held in
    // memory; Request::body_file names it, Request::body stays empty). The file is removed
    // after the handler returns unless the handler renamed it away.
    std::string body_to_dir{};
    // With body_to_dir: a body sent as application/json is not a file upload; it is read into
    // memory under this limit instead (0: body_limit), so an oversized JSON body still gets
    // its 413 from the Content-Length before anything is read.
    size_t json_body_limit = 0;
    // With body_to_dir: an upload sent as application/octet-stream (others still go to a
    // file) is handed, as it arrives, to the sink this returns (called
    // once the headers are read) instead of being stored: the session writes the body into
    // sink.fd (a pipe whose reader the route started; asynchronously, never blocking the
    // session) and closes it at the end of the body or at the first error. The handler then
    // runs with Request::body_state = sink.state and Request::body_complete; when the body
    // could not be read (cut, too large) it does not run and the state is dropped (on the
    // blocking executor: its destructor may wait for the reader and clean up).
    struct BodySink {
        base::UniqueFd fd;
        std::shared_ptr<void> state;
    };
    std::function<base::Result<BodySink>(const Request&)> body_sink{};
};

class Router {
public:
    Router();

    // method: "GET", "POST", "PUT", "PATCH", "DELETE". Adding the same method+pattern twice replaces it.
    void add(std::string_view method, std::string_view pattern, Route route);
    void get(std::string_view pattern, Handler h) { add("GET", pattern, Route{std::move(h)}); }
    void post(std::string_view pattern, Handler h) { add("POST", pattern, Route{std::move(h)}); }
    void put(std::string_view pattern, Handler h) { add("PUT", pattern, Route{std::move(h)}); }
    void patch(std::string_view pattern, Handler h) { add("PATCH", pattern, Route{std::move(h)}); }
    void del(std::string_view pattern, Handler h) { add("DELETE", pattern, Route{std::move(h)}); }

    // Requests under `from` are matched as if under `to` (whole segments only).
    void alias(std::string from, std::string to);

    struct Match {
        const Route* route = nullptr;
        std::map<std::string, std::string> params;
        std::string canonical_path;  // decoded, aliases rewritten
        std::string alias_prefix;
    };
    // The table: every method and pattern with its trust rule (tests walk it).
    struct RouteInfo {
        std::string method;
        std::string pattern;
        bool allow_untrusted = false;
    };
    std::vector<RouteInfo> list() const;

    // raw_path: the undecoded path part of the target. Errors are http 404/405.
    base::Result<Match> match(std::string_view method, std::string_view raw_path) const;

private:
    struct Entry {
        std::vector<std::string> segments;  // "{x}" = capture
        int literals = 0;
        std::map<std::string, Route> methods;
    };
    std::vector<Entry> entries_;
    std::vector<std::pair<std::string, std::string>> aliases_;
};

// Run a handler, turning errors and escaped exceptions into error envelopes.
Response invoke(const Route& route, const Request& req);

}  // namespace lxm::api
