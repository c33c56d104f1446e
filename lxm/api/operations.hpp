// Operations: long work in the background, LXD style (LXD-API.md §2.1/2.2/2.4).
//
// A handler creates an operation and answers 202 with it:
//
//   LXM_TRY(auto op, ops.create({
//       .description = "Starting instance",
//       .resources = {{"instances", {"/1.0/instances/c1"}}},
//       .may_cancel = false,
//       .run = [=](OperationContext& ctx) -> base::Result<void> { return core.start("c1", ctx.stop_token()); },
//   }));
//   return Response::async(op->snapshot());
//
// Life cycle: Pending → Running (work posted to the blocking executor) → Success |
// Failure (err = the error's text) | Cancelled (DELETE on a may_cancel op, or
// shutdown; the work sees ctx.stop_token()). Every change, and every metadata update,
// is an `operation` event carrying the full object. Finished operations stay
// visible for `retain` (LXD: 5 s) and are then forgotten.
//
// Websocket operations (exec, console, migration): make one secret per stream with
// random_secret(), put them in the metadata as the protocol wants
// (exec: {"fds": {"0": s0, ..., "control": sc}}), and list them in `websockets`
// (secret → stream name). GET /1.0/operations/<id>/websocket?secret=s (allowed
// untrusted: the secret is the credential; each secret works once) hands the
// accepted socket to `on_connect` if set (io thread: must not block), else keeps it
// for the work function's ctx.wait_websockets({"0","1","2"}, 5s).
//
// Routes: GET /1.0/operations[?recursion=1], GET|DELETE /1.0/operations/{id},
// GET /1.0/operations/{id}/wait?timeout=<s> (-1 forever; answers with the op when it
// ends or the timeout passes — the status tells which; never holds an io thread),
// GET /1.0/operations/{id}/websocket?secret=.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/api/websocket.hpp"
#include "lxm/apitypes/operation.hpp"
#include "lxm/base/error.hpp"

namespace lxm::api {

class Executors;
class EventHub;
class Router;
class Operation;

enum class OperationClass { task, websocket, token };

// What the work function gets.
class OperationContext {
public:
    explicit OperationContext(std::shared_ptr<Operation> op) : op_(std::move(op)) {}
    const std::string& id() const;
    std::stop_token stop_token() const;
    bool cancelled() const { return stop_token().stop_requested(); }
    // Merge keys into the operation's metadata and emit an event (progress, "return", ...).
    void update_metadata(const nlohmann::json& patch);
    // Block until the named websockets are connected; errc::timed_out after timeout,
    // errc::operation_canceled if the operation is cancelled meanwhile.
    base::Result<std::map<std::string, WebSocket>> wait_websockets(const std::vector<std::string>& names,
                                                                  std::chrono::milliseconds timeout);
    Operation& operation() { return *op_; }

private:
    std::shared_ptr<Operation> op_;
};

struct OperationSpec {
    OperationClass op_class = OperationClass::task;
    std::string description{};
    std::map<std::string, std::vector<std::string>> resources{};
    nlohmann::json metadata = nullptr;
    bool may_cancel = false;
    std::string project = "default";
    // Runs on the blocking executor. Empty: the op stays Running until finish() or cancel (tokens).
    std::function<base::Result<void>(OperationContext&)> run{};
    // Extra cancel hook (e.g. kill the exec'd process); runs on the thread that cancels.
    std::function<void()> on_cancel{};
    // websocket class: secret → stream name.
    std::map<std::string, std::string> websockets{};
    std::function<void(const std::string& name, WebSocket)> on_connect{};
};

class Operation : public std::enable_shared_from_this<Operation> {
public:
    struct Private;
    Operation(std::unique_ptr<Private> p);
    ~Operation();

    const std::string& id() const;
    std::string url() const { return "/1.0/operations/" + id(); }
    const std::string& project() const;
    apitypes::Operation snapshot() const;
    bool done() const;
    std::stop_token stop_token() const;

    void update_metadata(const nlohmann::json& patch);
    // DELETE: 400 if the op cannot be cancelled or is already done.
    base::Result<void> cancel();
    // End a run-less operation (or force an end); ignored once done.
    void finish(base::Result<void> result);
    // fn(final snapshot) once the op is done — immediately if it already is. Any thread.
    void on_done(std::function<void(const apitypes::Operation&)> fn);

    // websocket plumbing (used by the route and OperationContext)
    std::optional<std::string> take_secret(const std::string& secret);
    bool has_secret(const std::string& secret) const;
    void attach(const std::string& name, WebSocket ws);
    base::Result<std::map<std::string, WebSocket>> wait_websockets(const std::vector<std::string>& names,
                                                                  std::chrono::milliseconds timeout);

private:
    friend class Operations;
    std::unique_ptr<Private> p_;
};

struct OperationsOptions {
    std::chrono::milliseconds retain{5000};  // keep finished ops visible (LXD: 5 s)
    std::string location = "none";
};

class Operations {
public:
    Operations(Executors& ex, EventHub& events, OperationsOptions opts = {});
    ~Operations();
    Operations(const Operations&) = delete;
    Operations& operator=(const Operations&) = delete;

    // Register and start. The returned op is already Running; answer with Response::async(op->snapshot()).
    base::Result<std::shared_ptr<Operation>> create(OperationSpec spec);
    std::shared_ptr<Operation> find(const std::string& id) const;
    std::vector<std::shared_ptr<Operation>> list() const;
    // Cancel everything still running (regardless of may_cancel) and release /wait callers.
    void shutdown();

    void register_routes(Router& r);

    // 64 hex characters from the system CSPRNG (as LXD's RandomCryptoString).
    static std::string random_secret();
    // Random UUID v4 text.
    static std::string random_uuid();

    struct State;

private:
    std::shared_ptr<State> s_;
};

}  // namespace lxm::api
