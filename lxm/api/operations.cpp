#include "lxm/api/operations.hpp"

#include <openssl/rand.h>

#include <condition_variable>
#include <mutex>

#include "lxm/api/events.hpp"
#include "lxm/api/executors.hpp"
#include "lxm/api/router.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/log.hpp"

namespace lxm::api {
using apitypes::StatusCode;

struct Operations::State : std::enable_shared_from_this<Operations::State> {
    Executors& ex;
    EventHub& events;
    OperationsOptions opts;
    mutable std::mutex mu;
    std::map<std::string, std::shared_ptr<Operation>> ops;
    bool stopping = false;

    State(Executors& e, EventHub& ev, OperationsOptions o) : ex(e), events(ev), opts(std::move(o)) {}

    void forget_later(const std::string& id) {
        std::weak_ptr<State> weak = shared_from_this();
        ex.schedule(opts.retain, [weak, id] {
            if (auto self = weak.lock()) {
                std::lock_guard lk(self->mu);
                self->ops.erase(id);
            }
        });
    }
};

struct Operation::Private {
    std::weak_ptr<Operations::State> owner;
    EventHub* events = nullptr;
    std::mutex emit_mu;  // keeps events in the order of the changes
    mutable std::mutex mu;
    std::condition_variable cv;
    apitypes::Operation obj;
    std::string project;
    OperationSpec spec;
    std::stop_source stop;
    bool done = false;
    std::vector<std::function<void(const apitypes::Operation&)>> waiters;
    std::map<std::string, WebSocket> connected;
};

namespace {
std::string_view class_name(OperationClass c) {
    switch (c) {
        case OperationClass::websocket: return "websocket";
        case OperationClass::token: return "token";
        default: return "task";
    }
}
std::string hex(const unsigned char* p, size_t n) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}
}  // namespace

// ---- Operation ----

Operation::Operation(std::unique_ptr<Private> p) : p_(std::move(p)) {}
Operation::~Operation() = default;

const std::string& Operation::id() const { return p_->obj.id; }
const std::string& Operation::project() const { return p_->project; }

apitypes::Operation Operation::snapshot() const {
    std::lock_guard lk(p_->mu);
    return p_->obj;
}

bool Operation::done() const {
    std::lock_guard lk(p_->mu);
    return p_->done;
}

std::stop_token Operation::stop_token() const { return p_->stop.get_token(); }

void Operation::update_metadata(const nlohmann::json& patch) {
    std::lock_guard elk(p_->emit_mu);
    apitypes::Operation snap;
    {
        std::lock_guard lk(p_->mu);
        if (p_->done) return;
        if (!p_->obj.metadata.is_object()) p_->obj.metadata = nlohmann::json::object();
        for (auto& [k, v] : patch.items()) p_->obj.metadata[k] = v;
        p_->obj.updated_at = apitypes::now();
        snap = p_->obj;
    }
    if (p_->events) p_->events->emit_operation(snap, p_->project);
}

base::Result<void> Operation::cancel() {
    std::function<void()> hook;
    bool has_run;
    {
        std::lock_guard elk(p_->emit_mu);
        apitypes::Operation snap;
        {
            std::lock_guard lk(p_->mu);
            if (p_->done) return apitypes::http_error(400, "Only running operations can be cancelled");
            if (!p_->obj.may_cancel) return apitypes::http_error(400, "This operation can't be cancelled");
            p_->obj.status_code = StatusCode::cancelling;
            p_->obj.status = std::string(apitypes::status_text(StatusCode::cancelling));
            p_->obj.updated_at = apitypes::now();
            snap = p_->obj;
            hook = p_->spec.on_cancel;
            has_run = static_cast<bool>(p_->spec.run);
        }
        if (p_->events) p_->events->emit_operation(snap, p_->project);
    }
    p_->stop.request_stop();
    p_->cv.notify_all();
    if (hook) hook();
    if (!has_run) finish(base::make_error(std::errc::operation_canceled, "Operation cancelled"));
    return {};
}

void Operation::finish(base::Result<void> result) {
    std::vector<std::function<void(const apitypes::Operation&)>> waiters;
    apitypes::Operation snap;
    {
        std::lock_guard elk(p_->emit_mu);
        {
            std::lock_guard lk(p_->mu);
            if (p_->done) return;
            p_->done = true;
            StatusCode code = StatusCode::success;
            if (!result) {
                code = p_->stop.stop_requested() ? StatusCode::cancelled : StatusCode::failure;
                p_->obj.err = apitypes::user_message(result.error());
            }
            p_->obj.status_code = code;
            p_->obj.status = std::string(apitypes::status_text(code));
            p_->obj.may_cancel = false;
            p_->obj.updated_at = apitypes::now();
            snap = p_->obj;
            waiters.swap(p_->waiters);
            p_->connected.clear();
            p_->spec.websockets.clear();
            p_->spec.run = nullptr;
            p_->spec.on_cancel = nullptr;
            p_->spec.on_connect = nullptr;
        }
        if (p_->events) p_->events->emit_operation(snap, p_->project);
    }
    p_->cv.notify_all();
    for (auto& w : waiters) w(snap);
    if (auto owner = p_->owner.lock()) owner->forget_later(id());
}

void Operation::on_done(std::function<void(const apitypes::Operation&)> fn) {
    apitypes::Operation snap;
    {
        std::lock_guard lk(p_->mu);
        if (!p_->done) {
            p_->waiters.push_back(std::move(fn));
            return;
        }
        snap = p_->obj;
    }
    fn(snap);
}

std::optional<std::string> Operation::take_secret(const std::string& secret) {
    std::lock_guard lk(p_->mu);
    auto it = p_->spec.websockets.find(secret);
    if (secret.empty() || it == p_->spec.websockets.end()) return std::nullopt;
    std::string name = it->second;
    p_->spec.websockets.erase(it);
    return name;
}

bool Operation::has_secret(const std::string& secret) const {
    std::lock_guard lk(p_->mu);
    return !secret.empty() && p_->spec.websockets.count(secret);
}

void Operation::attach(const std::string& name, WebSocket ws) {
    std::function<void(const std::string&, WebSocket)> cb;
    {
        std::lock_guard lk(p_->mu);
        if (p_->done) {
            ws.close();
            return;
        }
        cb = p_->spec.on_connect;
        if (!cb) p_->connected[name] = ws;
    }
    if (cb)
        cb(name, std::move(ws));
    else
        p_->cv.notify_all();
}

base::Result<std::map<std::string, WebSocket>> Operation::wait_websockets(const std::vector<std::string>& names,
                                                                         std::chrono::milliseconds timeout) {
    std::unique_lock lk(p_->mu);
    auto all = [&] {
        for (auto& n : names)
            if (!p_->connected.count(n)) return false;
        return true;
    };
    auto tok = p_->stop.get_token();
    bool ok = p_->cv.wait_for(lk, timeout, [&] { return all() || tok.stop_requested() || p_->done; });
    if (tok.stop_requested()) return base::make_error(std::errc::operation_canceled, "operation cancelled");
    if (!ok || !all()) return base::make_error(std::errc::timed_out, "timed out waiting for websockets");
    std::map<std::string, WebSocket> out;
    for (auto& n : names) out[n] = p_->connected[n];
    return out;
}

// ---- OperationContext ----

const std::string& OperationContext::id() const { return op_->id(); }
std::stop_token OperationContext::stop_token() const { return op_->stop_token(); }
void OperationContext::update_metadata(const nlohmann::json& patch) { op_->update_metadata(patch); }
base::Result<std::map<std::string, WebSocket>> OperationContext::wait_websockets(const std::vector<std::string>& names,
                                                                                std::chrono::milliseconds timeout) {
    return op_->wait_websockets(names, timeout);
}

// ---- Operations ----

Operations::Operations(Executors& ex, EventHub& events, OperationsOptions opts)
    : s_(std::make_shared<State>(ex, events, std::move(opts))) {}

Operations::~Operations() { shutdown(); }

std::string Operations::random_secret() {
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");  // a broken CSPRNG is a bug
    return hex(b, sizeof b);
}

std::string Operations::random_uuid() {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    std::string h = hex(b, sizeof b);
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

base::Result<std::shared_ptr<Operation>> Operations::create(OperationSpec spec) {
    auto p = std::make_unique<Operation::Private>();
    p->owner = s_;
    p->events = &s_->events;
    p->project = spec.project;
    auto& o = p->obj;
    o.id = random_uuid();
    o.op_class = std::string(class_name(spec.op_class));
    o.description = spec.description;
    o.created_at = o.updated_at = apitypes::now();
    o.status_code = StatusCode::pending;
    o.status = std::string(apitypes::status_text(StatusCode::pending));
    o.resources = spec.resources;
    o.metadata = spec.metadata;
    o.may_cancel = spec.may_cancel;
    o.location = s_->opts.location;
    p->spec = std::move(spec);
    auto op = std::make_shared<Operation>(std::move(p));
    {
        std::lock_guard lk(s_->mu);
        if (s_->stopping) return apitypes::http_error(503, "the daemon is shutting down");
        s_->ops[op->id()] = op;
    }
    s_->events.emit_operation(op->snapshot(), op->project());

    // Running; the work goes to the blocking executor.
    {
        std::lock_guard elk(op->p_->emit_mu);
        apitypes::Operation snap;
        {
            std::lock_guard lk(op->p_->mu);
            op->p_->obj.status_code = StatusCode::running;
            op->p_->obj.status = std::string(apitypes::status_text(StatusCode::running));
            op->p_->obj.updated_at = apitypes::now();
            snap = op->p_->obj;
        }
        s_->events.emit_operation(snap, op->project());
    }
    if (op->p_->spec.run) {
        s_->ex.post_blocking([op] {
            std::function<base::Result<void>(OperationContext&)> run;
            {
                std::lock_guard lk(op->p_->mu);
                run = op->p_->spec.run;
            }
            if (!run) return;  // finished meanwhile
            if (op->stop_token().stop_requested())
                return op->finish(base::make_error(std::errc::operation_canceled, "Operation cancelled"));
            OperationContext ctx(op);
            base::Result<void> r;
            try {
                r = run(ctx);
            } catch (const std::exception& e) {
                LXM_ERROR("operation {} threw: {}", op->id(), e.what());
                r = base::make_error(std::errc::io_error, std::string("internal error: ") + e.what());
            }
            op->finish(std::move(r));
        });
    }
    return op;
}

std::shared_ptr<Operation> Operations::find(const std::string& id) const {
    std::lock_guard lk(s_->mu);
    auto it = s_->ops.find(id);
    return it == s_->ops.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Operation>> Operations::list() const {
    std::lock_guard lk(s_->mu);
    std::vector<std::shared_ptr<Operation>> out;
    for (auto& [id, op] : s_->ops) out.push_back(op);
    return out;
}

void Operations::shutdown() {
    std::vector<std::shared_ptr<Operation>> ops;
    {
        std::lock_guard lk(s_->mu);
        s_->stopping = true;
        for (auto& [id, op] : s_->ops) ops.push_back(op);
    }
    for (auto& op : ops) {
        if (op->done()) continue;
        op->p_->stop.request_stop();
        op->p_->cv.notify_all();
        bool has_run;
        std::function<void()> hook;
        {
            std::lock_guard lk(op->p_->mu);
            has_run = static_cast<bool>(op->p_->spec.run);
            hook = op->p_->spec.on_cancel;
        }
        if (hook) hook();
        if (!has_run) op->finish(base::make_error(std::errc::operation_canceled, "daemon shutting down"));
    }
}

void Operations::register_routes(Router& r) {
    auto find_or_404 = [this](const Request& req) -> base::Result<std::shared_ptr<Operation>> {
        auto op = find(req.param("id"));
        if (!op) return apitypes::http_error(404, "Operation not found");
        return op;
    };

    r.get("/1.0/operations", [this](const Request& req) -> base::Result<Response> {
        nlohmann::json md = nlohmann::json::object();
        for (auto& op : list()) {
            auto snap = op->snapshot();
            if (req.project() != op->project() && req.query_value("all-projects").value_or("") != "true") continue;
            std::string key = snap.status;
            for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (!md.contains(key)) md[key] = nlohmann::json::array();
            if (req.recursion() > 0)
                md[key].push_back(nlohmann::json(snap));
            else
                md[key].push_back(op->url());
        }
        return Response::sync(std::move(md));
    });

    r.get("/1.0/operations/{id}", [find_or_404](const Request& req) -> base::Result<Response> {
        LXM_TRY(auto op, find_or_404(req));
        return Response::sync(nlohmann::json(op->snapshot()));
    });

    r.del("/1.0/operations/{id}", [find_or_404](const Request& req) -> base::Result<Response> {
        LXM_TRY(auto op, find_or_404(req));
        LXM_TRY_VOID(op->cancel());
        return Response::empty();
    });

    auto& ex = s_->ex;
    r.add("GET", "/1.0/operations/{id}/wait",
          Route{[find_or_404, &ex](const Request& req) -> base::Result<Response> {
                    LXM_TRY(auto op, find_or_404(req));
                    if (!req.trusted && !op->has_secret(req.query_value("secret").value_or("")))
                        return apitypes::http_error(403, "not authorized");
                    long timeout = -1;
                    if (auto t = req.query_value("timeout"); t && !t->empty()) {
                        char* end = nullptr;
                        timeout = std::strtol(t->c_str(), &end, 10);
                        if (*end != '\0') return apitypes::http_error(400, "invalid timeout \"" + *t + "\"");
                    }
                    if (timeout == 0 || op->done()) return Response::sync(nlohmann::json(op->snapshot()));
                    return Response::later([op, timeout, &ex](Completion done) {
                        auto fired = std::make_shared<std::atomic<bool>>(false);
                        std::function<void()> cancel_timer;
                        if (timeout > 0)
                            cancel_timer = ex.schedule(std::chrono::seconds(timeout), [op, fired, done] {
                                if (!fired->exchange(true)) done(Response::sync(nlohmann::json(op->snapshot())));
                            });
                        op->on_done([fired, done, cancel_timer](const apitypes::Operation& snap) {
                            if (fired->exchange(true)) return;
                            if (cancel_timer) cancel_timer();
                            done(Response::sync(nlohmann::json(snap)));
                        });
                    });
                },
                /*allow_untrusted=*/true});

    r.add("GET", "/1.0/operations/{id}/websocket",
          Route{[find_or_404](const Request& req) -> base::Result<Response> {
                    LXM_TRY(auto op, find_or_404(req));
                    auto secret = req.query_value("secret").value_or("");
                    if (secret.empty()) return apitypes::http_error(400, "missing secret");
                    auto name = op->take_secret(secret);
                    if (!name) return apitypes::http_error(403, "invalid secret");
                    return Response::websocket([op, name = *name](WebSocket ws) { op->attach(name, std::move(ws)); });
                },
                /*allow_untrusted=*/true});
}

}  // namespace lxm::api
