#include "lxm/api/events.hpp"

#include <map>
#include <mutex>
#include <vector>

#include "lxm/api/router.hpp"
#include "lxm/base/log.hpp"

namespace lxm::api {

struct EventHub::State : std::enable_shared_from_this<EventHub::State> {
    EventHubOptions opts;
    struct Sub {
        WebSocket ws;
        std::set<std::string> types;
        std::string project;
    };
    mutable std::mutex mu;
    std::map<uint64_t, Sub> subs;
    std::map<uint64_t, std::function<void(const apitypes::Event&)>> listeners;
    uint64_t next = 1;

    void remove(uint64_t id) {
        std::lock_guard lk(mu);
        subs.erase(id);
    }

    void read_loop(uint64_t id, WebSocket ws) {
        std::weak_ptr<State> weak = shared_from_this();
        ws.async_read([weak, id, ws](base::Result<WsMessage> r) mutable {
            auto self = weak.lock();
            if (!self) return;
            if (!r) {
                self->remove(id);
                ws.close();
                return;
            }
            self->read_loop(id, ws);  // clients send nothing useful; keep reading for close/pings
        });
    }
};

static const std::set<std::string> kEventTypes{"operation", "lifecycle", "logging"};

EventHub::EventHub(EventHubOptions opts) : s_(std::make_shared<State>()) { s_->opts = std::move(opts); }

EventHub::~EventHub() { close_all(); }

void EventHub::subscribe(WebSocket ws, std::set<std::string> types, std::string project) {
    uint64_t id;
    {
        std::lock_guard lk(s_->mu);
        id = s_->next++;
        s_->subs[id] = State::Sub{ws, std::move(types), std::move(project)};
    }
    s_->read_loop(id, ws);
}

uint64_t EventHub::listen(std::function<void(const apitypes::Event&)> fn) {
    std::lock_guard lk(s_->mu);
    auto id = s_->next++;
    s_->listeners[id] = std::move(fn);
    return id;
}

void EventHub::unlisten(uint64_t id) {
    std::lock_guard lk(s_->mu);
    s_->listeners.erase(id);
}

void EventHub::emit(apitypes::Event ev) {
    if (ev.location.empty()) ev.location = s_->opts.location;
    std::string text = nlohmann::json(ev).dump();
    std::vector<std::function<void(const apitypes::Event&)>> listeners;
    {
        std::lock_guard lk(s_->mu);
        for (auto& [id, fn] : s_->listeners) listeners.push_back(fn);
    }
    for (auto& fn : listeners) fn(ev);
    std::lock_guard lk(s_->mu);
    for (auto it = s_->subs.begin(); it != s_->subs.end();) {
        auto& sub = it->second;
        bool wanted = (sub.types.empty() || sub.types.count(ev.type)) &&
                      (sub.project.empty() || ev.project.empty() || sub.project == ev.project);
        if (!wanted) {
            ++it;
            continue;
        }
        if (sub.ws.queued() >= s_->opts.max_queue) {
            LXM_DEBUG("events: dropping a subscriber {} messages behind", sub.ws.queued());
            sub.ws.abort();
            it = s_->subs.erase(it);
            continue;
        }
        sub.ws.async_write(WsMessage{false, text});
        ++it;
    }
}

void EventHub::emit_operation(const apitypes::Operation& op, const std::string& project) {
    emit(apitypes::Event{"operation", apitypes::now(), nlohmann::json(op), s_->opts.location, project});
}

void EventHub::emit_lifecycle(std::string action, std::string source, nlohmann::json context,
                              const std::string& project) {
    apitypes::EventLifecycle lc{std::move(action), std::move(source), std::move(context), {}};
    emit(apitypes::Event{"lifecycle", apitypes::now(), nlohmann::json(lc), s_->opts.location, project});
}

void EventHub::emit_logging(std::string level, std::string message, nlohmann::json context) {
    nlohmann::json md{{"message", std::move(message)}, {"level", std::move(level)}, {"context", std::move(context)}};
    emit(apitypes::Event{"logging", apitypes::now(), std::move(md), s_->opts.location, ""});
}

size_t EventHub::subscribers() const {
    std::lock_guard lk(s_->mu);
    return s_->subs.size();
}

void EventHub::close_all() {
    std::map<uint64_t, State::Sub> subs;
    {
        std::lock_guard lk(s_->mu);
        subs.swap(s_->subs);
    }
    for (auto& [id, sub] : subs) sub.ws.close();
}

void EventHub::register_routes(Router& r) {
    r.get("/1.0/events", [this](const Request& req) -> base::Result<Response> {
        std::set<std::string> types;
        std::string list = req.query_value("type").value_or("");
        size_t pos = 0;
        while (pos <= list.size() && !list.empty()) {
            auto comma = list.find(',', pos);
            auto t = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
            if (!t.empty()) {
                if (!kEventTypes.count(t)) return apitypes::http_error(400, "\"" + t + "\" isn't a supported event type");
                types.insert(t);
            }
            if (comma == std::string::npos) break;
            pos = comma + 1;
        }
        std::string project = req.query_value("all-projects").value_or("") == "true" ? "" : req.project();
        return Response::websocket([this, types = std::move(types), project](WebSocket ws) {
            subscribe(std::move(ws), types, project);
        });
    });
}

}  // namespace lxm::api
