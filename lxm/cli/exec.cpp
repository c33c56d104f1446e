// exec and console: the LXD websocket choreography (LXD-API.md §2.4).
//
// exec: POST .../exec {wait-for-websocket:true} → websocket operation with secrets
// {"0","1","2","control"} (interactive: {"0","control"}, one pty stream); attach each
// with GET /1.0/operations/<id>/websocket?secret=, control first; mirror stdio; forward
// signals (and window size with -t) as control messages; wait for the operation; exit
// with its metadata "return".
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <thread>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"

namespace lxm::cli {

namespace {

// Raw mode on a terminal for the lifetime of the object.
class RawTerminal {
public:
    explicit RawTerminal(int fd) : fd_(fd) {
        if (::tcgetattr(fd, &saved_) != 0) return;
        termios raw = saved_;
        ::cfmakeraw(&raw);
        if (::tcsetattr(fd, TCSADRAIN, &raw) == 0) active_ = true;
    }
    ~RawTerminal() {
        if (active_) ::tcsetattr(fd_, TCSADRAIN, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

std::pair<int, int> window_size() {
    winsize ws{};
    for (int fd : {STDOUT_FILENO, STDIN_FILENO, STDERR_FILENO})
        if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return {ws.ws_col, ws.ws_row};
    return {80, 25};
}

std::string resize_message() {
    auto [w, h] = window_size();
    return json{{"command", "window-resize"},
                {"args", {{"width", std::to_string(w)}, {"height", std::to_string(h)}}}}
        .dump();
}

// The signals lxc forwards to the remote process (lxd:lxc/exec_unix.go), plus SIGWINCH.
const int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGTSTP, SIGCONT, SIGALRM, SIGWINCH};

// Blocks the forwarded signals (in the calling thread, before any other thread starts, so
// every thread inherits the mask) and forwards them on `control` from its own thread.
class SignalForwarder {
public:
    SignalForwarder(client::WebSocketConn* control, bool interactive) : control_(control), interactive_(interactive) {
        sigset_t set;
        sigemptyset(&set);
        for (int s : kForwarded) sigaddset(&set, s);
        ::pthread_sigmask(SIG_BLOCK, &set, &old_);
        sfd_ = base::UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC));
        int p[2];
        if (::pipe2(p, O_CLOEXEC) == 0) {
            wake_r_ = base::UniqueFd(p[0]);
            wake_w_ = base::UniqueFd(p[1]);
        }
    }
    void start() {
        if (!control_ || sfd_.get() < 0 || wake_r_.get() < 0) return;
        thread_ = std::thread([this] { loop(); });
    }
    ~SignalForwarder() {
        if (thread_.joinable()) {
            char c = 1;
            [[maybe_unused]] auto n = ::write(wake_w_.get(), &c, 1);
            thread_.join();
        }
        ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SignalForwarder(const SignalForwarder&) = delete;
    SignalForwarder& operator=(const SignalForwarder&) = delete;

private:
    void loop() {
        for (;;) {
            pollfd pfds[2] = {{sfd_.get(), POLLIN, 0}, {wake_r_.get(), POLLIN, 0}};
            if (::poll(pfds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                return;
            }
            if (pfds[1].revents) return;
            signalfd_siginfo si{};
            if (::read(sfd_.get(), &si, sizeof si) != sizeof si) continue;
            int sig = static_cast<int>(si.ssi_signo);
            if (sig == SIGWINCH) {
                if (interactive_) (void)control_->write_text(resize_message());
                continue;
            }
            (void)control_->write_text(json{{"command", "signal"}, {"signal", sig}}.dump());
        }
    }

    client::WebSocketConn* control_;
    bool interactive_;
    sigset_t old_{};
    base::UniqueFd sfd_, wake_r_, wake_w_;
    std::thread thread_;
};

std::string websocket_url(const std::string& op_id, const std::string& secret) {
    return "/1.0/operations/" + op_id + "/websocket?secret=" + url_escape(secret);
}

struct ExecOpts {
    std::string name;
    std::vector<std::string> command;
    bool force_tty = false;
    bool force_no_tty = false;
    std::vector<std::string> env;
    std::string cwd;
    int64_t user = -1;
    int64_t group = -1;
};

base::Result<int> run_exec(Context& ctx, const ExecOpts& o) {
    if (o.command.empty()) return user_error("no command given (lxm exec NAME -- COMMAND...)");
    if (o.force_tty && o.force_no_tty) return user_error("you can't pass -t and -T at the same time");
    bool interactive = o.force_tty || (!o.force_no_tty && ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO));

    json env = json::object();
    if (const char* term = std::getenv("TERM"); term && *term) env["TERM"] = term;
    LXM_TRY(auto extra, key_values(o.env));
    for (auto& [k, v] : extra.items()) env[k] = v;
    auto [w, h] = window_size();
    json body = {{"command", o.command},       {"environment", env},       {"interactive", interactive},
                 {"wait-for-websocket", true}, {"record-output", false},   {"width", interactive ? w : 0},
                 {"height", interactive ? h : 0}, {"cwd", o.cwd}};
    if (o.user >= 0) body["user"] = o.user;
    if (o.group >= 0) body["group"] = o.group;

    LXM_TRY(auto* c, ctx.client());
    LXM_TRY(auto resp, c->post(instance_url(o.name) + "/exec", body));
    if (resp.type != "async") return user_error("the server did not start an exec operation");
    auto op = resp.metadata;
    std::string op_id = op.value("id", "");
    json fds = op.contains("metadata") && op["metadata"].is_object() ? op["metadata"].value("fds", json()) : json();
    if (op_id.empty() || !fds.is_object()) return user_error("the exec operation carries no websocket secrets");

    std::optional<client::WebSocketConn> control;
    if (fds.contains("control")) {
        LXM_TRY(auto ws, c->websocket(websocket_url(op_id, fds["control"].get<std::string>())));
        control.emplace(std::move(ws));
    }
    std::vector<std::string> streams = interactive ? std::vector<std::string>{"0"}
                                                   : std::vector<std::string>{"0", "1", "2"};
    std::vector<client::WebSocketConn> conns;
    for (auto& s : streams) {
        if (!fds.contains(s)) return user_error("the exec operation has no stream \"" + s + "\"");
        LXM_TRY(auto ws, c->websocket(websocket_url(op_id, fds[s].get<std::string>())));
        conns.push_back(std::move(ws));
    }

    int rc = 1;
    {
        std::optional<RawTerminal> raw;
        if (interactive && ::isatty(STDIN_FILENO)) raw.emplace(STDIN_FILENO);
        SignalForwarder signals(control ? &*control : nullptr, interactive);
        signals.start();

        // Output streams end when the server has drained them; stdin's pump runs until interrupted.
        std::vector<std::future<void>> outputs;
        std::thread stdin_pump;
        if (interactive) {
            outputs.push_back(std::async(std::launch::async,
                                         [&] { (void)conns[0].pump(STDIN_FILENO, STDOUT_FILENO); }));
        } else {
            stdin_pump = std::thread([&] { (void)conns[0].pump(STDIN_FILENO, -1); });
            outputs.push_back(std::async(std::launch::async, [&] { (void)conns[1].pump(-1, STDOUT_FILENO); }));
            outputs.push_back(std::async(std::launch::async, [&] { (void)conns[2].pump(-1, STDERR_FILENO); }));
        }

        auto final_op = c->wait_operation(op_id, -1);
        while (final_op && !apitypes::is_final(final_op->status_code)) final_op = c->wait_operation(op_id, -1);

        // Let the output drain (the server sends its barrier after the last byte), then stop the rest.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        for (auto& f : outputs) f.wait_until(deadline);
        for (auto& conn : conns) conn.interrupt();
        for (auto& f : outputs) f.wait();
        if (stdin_pump.joinable()) stdin_pump.join();
        for (auto& conn : conns) conn.close();
        if (control) control->close();

        if (!final_op) return std::unexpected(final_op.error());
        const auto& md = final_op->metadata;
        bool has_return = md.is_object() && md.contains("return") && md["return"].is_number_integer();
        if (final_op->status_code != apitypes::StatusCode::success) {
            std::string err = final_op->err.empty() ? final_op->status : final_op->err;
            if (!has_return) return user_error(err);
            print(ctx.err, "Error: " + err + "\n");
        }
        rc = has_return ? md["return"].get<int>() : 0;
    }
    return rc;
}

void add_exec(CLI::App& app, Context& ctx, Action& chosen) {
    auto o = std::make_shared<ExecOpts>();
    auto* sub = app.add_subcommand("exec", "Run a command in an instance: exec NAME [options] -- COMMAND...");
    sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
    sub->add_option("command", o->command, "Command and arguments (after --)");
    sub->add_flag("-t,--force-interactive", o->force_tty, "Force pseudo-terminal allocation");
    sub->add_flag("-T,--force-noninteractive", o->force_no_tty, "Disable pseudo-terminal allocation");
    sub->add_option("--env", o->env, "Environment variable KEY=VALUE (repeatable)")->allow_extra_args(false);
    sub->add_option("--cwd", o->cwd, "Directory to run the command in (default /root)");
    sub->add_option("--user", o->user, "User ID to run the command as (default 0)");
    sub->add_option("--group", o->group, "Group ID to run the command as (default 0)");
    on_run(sub, chosen, [&ctx, o]() -> base::Result<int> { return run_exec(ctx, *o); });
}

struct ConsoleOpts {
    std::string name;
    bool show_log = false;
};

base::Result<std::string> console_log(Context& ctx, const std::string& name) {
    LXM_TRY(auto* c, ctx.client());
    auto r = c->raw("GET", instance_url(name) + "/console");
    if (!r && apitypes::http_status_of(r.error()) == 400) r = c->raw("GET", instance_url(name) + "/console?type=log");
    if (!r) return std::unexpected(r.error());
    return std::move(r->body);
}

// Copies stdin to `out_fd` until <ctrl>+a q; then interrupts the console pump.
void detach_filter(int out_fd, int wake_fd, client::WebSocketConn& ws, std::atomic<bool>& detached) {
    bool pending = false;
    char buf[4096];
    for (;;) {
        pollfd pfds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_fd, POLLIN, 0}};
        if (::poll(pfds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pfds[1].revents) break;
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        std::string fwd;
        for (ssize_t i = 0; i < n; ++i) {
            char ch = buf[i];
            if (pending) {
                pending = false;
                if (ch == 'q') {
                    detached = true;
                    ws.interrupt();
                    ::close(out_fd);
                    return;
                }
                fwd += '\x01';
                if (ch == '\x01') continue;  // <ctrl>+a <ctrl>+a sends one
            } else if (ch == '\x01') {
                pending = true;
                continue;
            }
            fwd += ch;
        }
        if (!fwd.empty() && ::write(out_fd, fwd.data(), fwd.size()) < 0) break;
    }
    ::close(out_fd);
}

base::Result<int> run_console(Context& ctx, const ConsoleOpts& o) {
    if (o.show_log) {
        LXM_TRY(auto log, console_log(ctx, o.name));
        print(ctx.out, log);
        return 0;
    }
    LXM_TRY(auto* c, ctx.client());
    auto [w, h] = window_size();
    LXM_TRY(auto resp, c->post(instance_url(o.name) + "/console", json{{"width", w}, {"height", h}, {"type", "console"}}));
    auto op = resp.metadata;
    std::string op_id = op.value("id", "");
    json fds = op.contains("metadata") && op["metadata"].is_object() ? op["metadata"].value("fds", json()) : json();
    if (op_id.empty() || !fds.is_object() || !fds.contains("0"))
        return user_error("the console operation carries no websocket secrets");
    std::optional<client::WebSocketConn> control;
    if (fds.contains("control")) {
        LXM_TRY(auto ws, c->websocket(websocket_url(op_id, fds["control"].get<std::string>())));
        control.emplace(std::move(ws));
    }
    LXM_TRY(auto data, c->websocket(websocket_url(op_id, fds["0"].get<std::string>())));
    print(ctx.out, "To detach from the console, press: <ctrl>+a q\n");
    std::fflush(ctx.out);

    int in[2], wake[2];
    if (::pipe2(in, O_CLOEXEC) < 0 || ::pipe2(wake, O_CLOEXEC) < 0) return base::errno_error("pipe2");
    base::UniqueFd in_r(in[0]), wake_r(wake[0]), wake_w(wake[1]);
    std::atomic<bool> detached{false};
    {
        std::optional<RawTerminal> raw;
        if (::isatty(STDIN_FILENO)) raw.emplace(STDIN_FILENO);
        SignalForwarder signals(control ? &*control : nullptr, true);
        signals.start();
        std::thread filter([&, out = in[1]] { detach_filter(out, wake_r.get(), data, detached); });
        (void)data.pump(in_r.get(), STDOUT_FILENO);
        char ch = 1;
        [[maybe_unused]] auto n = ::write(wake_w.get(), &ch, 1);
        filter.join();
    }
    data.close();
    if (control) control->close();  // ends the console operation on the server
    if (detached) print(ctx.out, "\n");
    return 0;
}

void add_console(CLI::App& app, Context& ctx, Action& chosen) {
    auto o = std::make_shared<ConsoleOpts>();
    auto* sub = app.add_subcommand("console", "Attach to an instance's console, or print its console log");
    sub->add_option("name", o->name, "Instance")->transform(remote_arg(ctx))->required();
    sub->add_flag("--show-log", o->show_log, "Print the console log instead of attaching");
    on_run(sub, chosen, [&ctx, o]() -> base::Result<int> { return run_console(ctx, *o); });
}

}  // namespace

void add_exec_commands(CLI::App& app, Context& ctx, Action& chosen) {
    add_exec(app, ctx, chosen);
    add_console(app, ctx, chosen);
}

}  // namespace lxm::cli
