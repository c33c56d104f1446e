// POST /1.0/instances/<n>/exec and the console (LXD-API.md §2.4): websocket
// operations whose work function pumps bytes between the client's websockets
// and the fds the container's monitor hands out (pipes, or a pty master).
//
// Streams: binary frames carry data; an empty text frame (or a close) ends a
// stream. Control socket: {"command":"window-resize","args":{"width","height"}}
// and {"command":"signal","signal":N}; a close of control kills the command.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/instance.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;
using base::UniqueFd;
using namespace std::chrono_literals;

namespace {

std::string instance_url(const std::string& name) { return "/1.0/instances/" + url_encode(name); }

Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return base::errno_error("pipe");
    return std::pair<UniqueFd, UniqueFd>{UniqueFd(p[0]), UniqueFd(p[1])};
}

// Copy fd -> ws until EOF/EIO, or until stop is set and nothing more is readable.
void pump_fd_to_ws(int fd, WebSocket ws, const std::atomic<bool>& stop, bool barrier) {
    char buf[32768];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, 100);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            if (stop.load()) break;
            continue;
        }
        ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) break;  // EOF, or EIO on a pty master whose slaves are all closed
        if (!ws.write(WsMessage{true, std::string(buf, static_cast<size_t>(r))})) break;
    }
    if (barrier) (void)ws.write(WsMessage{false, std::string()});
}

// Copy ws -> fd until an empty text frame, a close or an error; then close fd (EOF for the command).
void pump_ws_to_fd(WebSocket ws, UniqueFd fd, bool pty) {
    for (;;) {
        auto m = ws.read();
        if (!m) break;
        if (!m->binary && m->data.empty()) {
            if (pty) {
                (void)base::write_all(fd.get(), "\x04");  // EOF on a terminal is ^D
                continue;
            }
            break;
        }
        if (!base::write_all(fd.get(), m->data)) break;
    }
}

struct ControlState {
    std::atomic<bool> finished{false};
    core::Instances* inst = nullptr;
    std::string name;
    pid_t pid = -1;
    int pty_master = -1;
};

// Reads control messages on the websocket's own strand (must not block for long:
// a signal is one short request to the local monitor).
void control_loop(WebSocket ws, std::shared_ptr<ControlState> st) {
    ws.async_read([ws, st](Result<WsMessage> m) mutable {
        if (!m) {
            if (!st->finished.load() && st->pid > 0) (void)st->inst->signal_command(st->name, st->pid, SIGKILL);
            return;
        }
        auto j = json::parse(m->data, nullptr, false);
        if (j.is_object()) {
            std::string cmd = j.value("command", "");
            if (cmd == "window-resize" && st->pty_master >= 0 && j.contains("args") && j["args"].is_object()) {
                auto num = [&](const char* k) -> unsigned short {
                    const auto& a = j["args"];
                    if (!a.contains(k)) return 0;
                    if (a[k].is_string()) return static_cast<unsigned short>(std::atoi(a[k].get<std::string>().c_str()));
                    if (a[k].is_number()) return a[k].get<unsigned short>();
                    return 0;
                };
                winsize w{};
                w.ws_col = num("width");
                w.ws_row = num("height");
                if (w.ws_col && w.ws_row) ::ioctl(st->pty_master, TIOCSWINSZ, &w);
            } else if (cmd == "signal" && j.contains("signal") && j["signal"].is_number_integer()) {
                int sig = j["signal"].get<int>();
                if (sig > 0 && sig < 65 && st->pid > 0) (void)st->inst->signal_command(st->name, st->pid, sig);
            }
        }
        control_loop(ws, st);
    });
}

// Close a websocket and give the peer a moment to answer; then drop it.
void finish_ws(WebSocket& ws) {
    if (!ws) return;
    ws.close();
}

Result<void> run_exec(OperationContext& ctx, core::Instances& inst, const std::string& name,
                      const apitypes::InstanceExecPost& post) {
    runtime::ExecRequest er;
    er.args = post.command;
    for (const auto& [k, v] : post.environment) er.env.push_back(k + "=" + v);
    if (!post.cwd.empty()) er.cwd = post.cwd;
    er.uid = post.user;
    er.gid = post.group;
    er.pty = post.interactive && post.wait_for_websocket;
    if (post.height > 0) er.rows = static_cast<unsigned>(post.height);
    if (post.width > 0) er.cols = static_cast<unsigned>(post.width);

    auto control = std::make_shared<ControlState>();
    control->inst = &inst;
    control->name = name;
    std::atomic<bool> exited{false};
    int code = -1;

    if (!post.wait_for_websocket) {
        // No streams: the command runs with /dev/null as stdio (record-output is not implemented).
        LXM_TRY(UniqueFd null, base::open_fd("/dev/null", O_RDWR | O_CLOEXEC));
        int stdio[3] = {null.get(), null.get(), null.get()};
        LXM_TRY(runtime::ExecHandle h, inst.exec(name, er, stdio));
        null.reset();
        LXM_TRY(code, runtime::wait_exec(h));
    } else if (er.pty) {
        LXM_TRY(auto socks, ctx.wait_websockets({"0"}, 5s));
        auto ctl = ctx.wait_websockets({"control"}, 1s);
        WebSocket ws0 = socks["0"];
        int none[3] = {-1, -1, -1};
        auto h = inst.exec(name, er, none);
        if (!h) {
            finish_ws(ws0);
            if (ctl) finish_ws((*ctl)["control"]);
            return std::unexpected(h.error());
        }
        control->pid = h->pid;
        control->pty_master = h->pty_master.get();
        if (ctl) control_loop((*ctl)["control"], control);
        UniqueFd in_fd(::fcntl(h->pty_master.get(), F_DUPFD_CLOEXEC, 0));
        std::thread in([ws0, fd = std::move(in_fd)]() mutable { pump_ws_to_fd(ws0, std::move(fd), true); });
        std::thread out([&] { pump_fd_to_ws(h->pty_master.get(), ws0, exited, true); });
        auto c = runtime::wait_exec(*h);
        exited = true;
        out.join();
        control->finished = true;
        finish_ws(ws0);
        if (ctl) finish_ws((*ctl)["control"]);
        // The stdin pump ends when the peer answers the close (or the connection drops).
        auto done = std::async(std::launch::async, [&in] { in.join(); });
        if (done.wait_for(2s) != std::future_status::ready) ws0.abort();
        done.wait();
        if (!c) return std::unexpected(c.error());
        code = *c;
    } else {
        LXM_TRY(auto socks, ctx.wait_websockets({"0", "1", "2"}, 5s));
        auto ctl = ctx.wait_websockets({"control"}, 1s);
        WebSocket ws0 = socks["0"], ws1 = socks["1"], ws2 = socks["2"];
        auto fail = [&](const base::Error& e) -> Result<void> {
            for (auto* w : {&ws0, &ws1, &ws2}) finish_ws(*w);
            if (ctl) finish_ws((*ctl)["control"]);
            return std::unexpected(e);
        };
        auto pin = make_pipe();
        auto pout = make_pipe();
        auto perr = make_pipe();
        if (!pin || !pout || !perr) return fail(!pin ? pin.error() : !pout ? pout.error() : perr.error());
        int stdio[3] = {pin->first.get(), pout->second.get(), perr->second.get()};
        auto h = inst.exec(name, er, stdio);
        // The command has its own copies now (or never will): ours must go for EOFs to work.
        pin->first.reset();
        pout->second.reset();
        perr->second.reset();
        if (!h) return fail(h.error());
        control->pid = h->pid;
        if (ctl) control_loop((*ctl)["control"], control);
        std::thread in([ws0, fd = std::move(pin->second)]() mutable { pump_ws_to_fd(ws0, std::move(fd), false); });
        std::thread out([&] { pump_fd_to_ws(pout->first.get(), ws1, exited, true); });
        std::thread err([&] { pump_fd_to_ws(perr->first.get(), ws2, exited, true); });
        auto c = runtime::wait_exec(*h);
        // Output still in the pipes is drained; a background process keeping them open
        // gets up to 2 s more before the streams end.
        std::mutex drain_mu;
        std::condition_variable drain_cv;
        bool drained = false;
        auto deadline = std::async(std::launch::async, [&] {
            std::unique_lock lk(drain_mu);
            if (!drain_cv.wait_for(lk, 2s, [&] { return drained; })) exited = true;
        });
        out.join();
        err.join();
        {
            std::lock_guard lk(drain_mu);
            drained = true;
        }
        drain_cv.notify_all();
        exited = true;
        control->finished = true;
        for (auto* w : {&ws0, &ws1, &ws2}) finish_ws(*w);
        if (ctl) finish_ws((*ctl)["control"]);
        auto done = std::async(std::launch::async, [&in] { in.join(); });
        if (done.wait_for(2s) != std::future_status::ready) ws0.abort();
        done.wait();
        deadline.wait();
        if (!c) return std::unexpected(c.error());
        code = *c;
    }
    ctx.update_metadata({{"return", code}});
    if (code == 127) return base::make_error(std::errc::no_such_file_or_directory, "Command not found");
    if (code == 126) return base::make_error(std::errc::permission_denied, "Command not executable");
    return {};
}

Result<void> run_console(OperationContext& ctx, core::Instances& inst, const std::string& name, unsigned rows,
                         unsigned cols) {
    LXM_TRY(auto socks, ctx.wait_websockets({"0"}, 5s));
    auto ctl = ctx.wait_websockets({"control"}, 1s);
    WebSocket ws0 = socks["0"];
    auto con = inst.console(name, rows, cols);
    if (!con) {
        finish_ws(ws0);
        if (ctl) finish_ws((*ctl)["control"]);
        return std::unexpected(con.error());
    }
    auto stop = std::make_shared<std::atomic<bool>>(false);
    UniqueFd in_fd(::fcntl(con->get(), F_DUPFD_CLOEXEC, 0));
    if (ctl) {
        // A close of control detaches: stop pumping.
        (*ctl)["control"].async_read([stop](Result<WsMessage> m) {
            if (!m) *stop = true;
        });
    }
    std::thread in([ws0, fd = std::move(in_fd), stop]() mutable {
        pump_ws_to_fd(ws0, std::move(fd), false);
        *stop = true;
    });
    pump_fd_to_ws(con->get(), ws0, *stop, false);
    *stop = true;
    finish_ws(ws0);
    if (ctl) finish_ws((*ctl)["control"]);
    auto done = std::async(std::launch::async, [&in] { in.join(); });
    if (done.wait_for(2s) != std::future_status::ready) ws0.abort();
    done.wait();
    return {};
}

void add(Api& api, std::string_view method, std::string_view pattern, Handler h) {
    Route r;
    r.handler = std::move(h);
    r.blocking = true;
    r.body_limit = kJsonBodyLimit;
    api.router().add(method, pattern, std::move(r));
}

}  // namespace

void register_exec_routes(Api& api, DaemonRoutes& dr) {
    auto& inst = dr.instances;

    add(api, "POST", "/1.0/instances/{name}/exec", [&api, &inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        LXM_TRY(auto post, req.body_as<apitypes::InstanceExecPost>());
        if (post.command.empty()) return http_error(400, "No command given");
        // The status only (404/400 before any operation): the full state would also walk the
        // root volume for its disk usage and read the container's network.
        LXM_TRY(auto cur, inst.get(name));
        if (cur.status != "Running") return http_error(400, "Instance is not running");
        OperationSpec spec;
        spec.description = "Executing command";
        spec.resources = {{"instances", {instance_url(name)}}};
        if (post.wait_for_websocket) {
            spec.op_class = OperationClass::websocket;
            std::vector<std::string> streams = post.interactive ? std::vector<std::string>{"0", "control"}
                                                                : std::vector<std::string>{"0", "1", "2", "control"};
            json fds = json::object();
            for (const auto& s : streams) {
                std::string secret = Operations::random_secret();
                fds[s] = secret;
                spec.websockets[secret] = s;
            }
            spec.metadata = {{"fds", fds}};
        }
        spec.run = [&inst, name, post](OperationContext& c) { return run_exec(c, inst, name, post); };
        LXM_TRY(auto op, api.operations().create(std::move(spec)));
        return Response::async(op->snapshot());
    });

    // Console log (LXD: GET .../console returns the log as a file; DELETE clears it).
    add(api, "GET", "/1.0/instances/{name}/console", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY(std::string log, inst.console_log(req.param("name")));
        return Response::raw(200, "application/octet-stream", std::move(log));
    });
    add(api, "DELETE", "/1.0/instances/{name}/console", [&inst](const Request& req) -> Result<Response> {
        LXM_TRY_VOID(inst.clear_console_log(req.param("name")));
        return Response::empty();
    });
    add(api, "POST", "/1.0/instances/{name}/console", [&api, &inst](const Request& req) -> Result<Response> {
        const auto name = req.param("name");
        const auto& body = req.json_body();
        if (!body) return std::unexpected(body.error());
        if (!body->is_object()) return http_error(400, "The request body must be a JSON object");
        std::string type = body->value("type", "console");
        if (type != "console") return http_error(400, "Console type \"" + type.substr(0, 16) + "\" is not supported");
        int width = 0, height = 0;
        try {
            width = body->value("width", 0);
            height = body->value("height", 0);
        } catch (const json::exception&) {
            return http_error(400, "width and height must be numbers");
        }
        LXM_TRY(auto cur, inst.get(name));
        if (cur.status != "Running") return http_error(400, "Instance is not running");
        OperationSpec spec;
        spec.op_class = OperationClass::websocket;
        spec.description = "Showing console";
        spec.resources = {{"instances", {instance_url(name)}}};
        std::string s0 = Operations::random_secret(), sc = Operations::random_secret();
        spec.websockets = {{s0, "0"}, {sc, "control"}};
        spec.metadata = {{"fds", {{"0", s0}, {"control", sc}}}};
        unsigned rows = height > 0 ? static_cast<unsigned>(height) : 24;
        unsigned cols = width > 0 ? static_cast<unsigned>(width) : 80;
        spec.run = [&inst, name, rows, cols](OperationContext& c) { return run_console(c, inst, name, rows, cols); };
        LXM_TRY(auto op, api.operations().create(std::move(spec)));
        return Response::async(op->snapshot());
    });
}

}  // namespace lxm::api
