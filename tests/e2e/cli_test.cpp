// The real build/bin/lxm binary against a fake LXD-shaped server built from lxm/api
// (operations, websockets, ETags are the real ones; instances live in a map and exec
// runs the command on the host). The tests check what the CLI sends and prints — the
// server only records and answers — so they hold for lxmd and for a real LXD too.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "lxm/api/api.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/instance.hpp"
#include "tests/support/test_env.hpp"

extern char** environ;

namespace lxm {
namespace {

using namespace std::chrono_literals;
using api::OperationContext;
using api::Request;
using api::Response;
using json = nlohmann::json;

struct Recorded {
    std::string method, target;
    json body;
    std::map<std::string, std::string> headers;
};

class FakeLxd {
public:
    explicit FakeLxd(const std::string& sock) {
        api::ApiOptions opts;
        opts.operations.retain = 5s;
        api_ = std::make_unique<api::Api>(opts);
        api_->server_info().extensions = {"api_filtering", "instances", "container_full", "container_backup"};
        routes(api_->router());
        auto r = api_->listen_unix(sock);
        if (!r) throw std::runtime_error(r.error().message());
        api_->start();
    }
    ~FakeLxd() { api_->stop(1s); }

    std::vector<Recorded> requests() {
        std::lock_guard lk(mu_);
        return log_;
    }
    std::vector<Recorded> requests(const std::string& method, const std::string& prefix) {
        std::vector<Recorded> out;
        for (auto& r : requests())
            if (r.method == method && r.target.starts_with(prefix)) out.push_back(r);
        return out;
    }
    json instance(const std::string& name) {
        std::lock_guard lk(mu_);
        return instances_.count(name) ? instances_[name] : json();
    }
    void put_instance(json inst) {
        std::string name = inst["name"];
        std::lock_guard lk(mu_);
        instances_[name] = std::move(inst);
    }
    std::map<std::string, std::pair<std::string, std::map<std::string, std::string>>> files() {
        std::lock_guard lk(mu_);
        return files_;
    }

private:
    void record(const Request& req) {
        std::lock_guard lk(mu_);
        json body = req.body.empty() ? json() : json::parse(req.body, nullptr, false);
        if (body.is_discarded()) body = req.body;
        log_.push_back({req.method, req.target, body, req.headers});
    }

    json full(const json& inst) {
        json f = inst;
        bool running = inst["status"] == "Running";
        f["state"] = {{"status", inst["status"]},
                      {"pid", running ? 4242 : 0},
                      {"processes", running ? 3 : 0},
                      {"memory", {{"usage", 2 * 1024 * 1024}}},
                      {"cpu", {{"usage", 0}}},
                      {"network", running ? json{{"eth0",
                                                  {{"addresses",
                                                    {{{"family", "inet"}, {"address", "10.9.0.2"}, {"netmask", "24"},
                                                      {"scope", "global"}}}},
                                                   {"state", "up"},
                                                   {"type", "broadcast"}}}}
                                          : json(nullptr)}};
        return f;
    }

    base::Result<Response> task(const std::string& name, std::function<base::Result<void>()> fn) {
        LXM_TRY(auto op, api_->operations().create({
                             .description = "Fake",
                             .resources = {{"instances", {"/1.0/instances/" + name}}},
                             .run = [fn](OperationContext&) { return fn(); },
                         }));
        return Response::async(op->snapshot());
    }

    // Runs argv on the host with pipes, mirrored to the exec websockets.
    static base::Result<void> run_exec(OperationContext& ctx, std::vector<std::string> argv) {
        LXM_TRY(auto socks, ctx.wait_websockets({"0", "1", "2", "control"}, 5s));
        int in[2], out[2], err[2];
        if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) return base::errno_error("pipe");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        pid_t pid = -1;
        int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(in[0]);
        ::close(out[1]);
        ::close(err[1]);
        if (rc != 0) {
            ::close(in[1]);
            ::close(out[0]);
            ::close(err[0]);
            ctx.update_metadata({{"return", 127}});
            return base::make_error(std::errc::no_such_file_or_directory, "Command not found");
        }
        std::thread stdin_t([ws = socks.at("0"), fd = in[1]]() mutable {
            for (;;) {
                auto m = ws.read();
                if (!m || (!m->binary && m->data.empty())) break;
                if (::write(fd, m->data.data(), m->data.size()) < 0) break;
            }
            ::close(fd);
        });
        auto pump = [](api::WebSocket ws, int fd) {
            char buf[4096];
            ssize_t n;
            while ((n = ::read(fd, buf, sizeof buf)) > 0) (void)ws.write(api::WsMessage{true, std::string(buf, n)});
            (void)ws.write(api::WsMessage{false, ""});
            ::close(fd);
        };
        std::thread out_t(pump, socks.at("1"), out[0]);
        std::thread err_t(pump, socks.at("2"), err[0]);
        // Control messages are read asynchronously (the client only closes control after the op ends).
        auto done = std::make_shared<std::atomic<bool>>(false);
        auto loop = std::make_shared<std::function<void()>>();
        *loop = [ws = socks.at("control"), pid, done, weak = std::weak_ptr(loop)]() mutable {
            ws.async_read([pid, done, weak](base::Result<api::WsMessage> m) {
                if (!m) return;
                json j = json::parse(m->data, nullptr, false);
                if (!done->load() && j.is_object() && j.value("command", "") == "signal")
                    ::kill(pid, j.value("signal", 0));
                if (auto l = weak.lock()) (*l)();
            });
        };
        (*loop)();
        int status = 0;
        ::waitpid(pid, &status, 0);
        out_t.join();
        err_t.join();
        socks.at("0").close();
        *done = true;
        socks.at("control").close();
        stdin_t.join();
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ctx.update_metadata({{"return", code}});
        return {};
    }

    void routes(api::Router& r) {
        auto& ops = api_->operations();
        r.get("/1.0/instances", [this](const Request& req) -> base::Result<Response> {
            record(req);
            std::lock_guard lk(mu_);
            json list = json::array();
            for (auto& [name, inst] : instances_)
                list.push_back(req.recursion() >= 2 ? full(inst) : req.recursion() == 1 ? inst : json("/1.0/instances/" + name));
            return Response::sync(list);
        });
        r.post("/1.0/instances", [this](const Request& req) -> base::Result<Response> {
            record(req);
            LXM_TRY(auto body, req.body_as<apitypes::InstancesPost>());
            std::string name = body.name.empty() ? "auto-name" : body.name;
            {
                std::lock_guard lk(mu_);
                if (instances_.count(name)) return apitypes::http_error(409, "Instance \"" + name + "\" already exists");
            }
            if (body.source.type == "image" && body.source.alias != "busybox")
                return apitypes::http_error(404, "Image \"" + body.source.alias + "\" not found");
            json inst = {{"name", name}, {"status", "Stopped"}, {"type", "container"}, {"architecture", "x86_64"},
                         {"config", body.config}, {"devices", json::object()}, {"ephemeral", body.ephemeral},
                         {"profiles", body.profiles.value_or(std::vector<std::string>{"default"})},
                         {"created_at", "2026-11-23T01:02:03Z"}, {"snapshots", json::array()}, {"description", ""}};
            return task(name, [this, inst] {
                put_instance(inst);
                return base::Result<void>{};
            });
        });
        r.get("/1.0/instances/{name}", [this](const Request& req) -> base::Result<Response> {
            record(req);
            json inst = instance(req.param("name"));
            if (inst.is_null()) return apitypes::http_error(404, "Instance not found");
            return Response::sync_etag(inst, api::etag_hash(inst["config"]));
        });
        r.put("/1.0/instances/{name}", [this](const Request& req) -> base::Result<Response> {
            record(req);
            json inst = instance(req.param("name"));
            if (inst.is_null()) return apitypes::http_error(404, "Instance not found");
            LXM_TRY_VOID(api::etag_check(req, inst["config"]));
            LXM_TRY(auto put, req.body_as<apitypes::InstancePut>());
            if (put.restore.empty()) {
                inst["config"] = put.config;
                inst["profiles"] = put.profiles;
            }
            return task(req.param("name"), [this, inst] {
                put_instance(inst);
                return base::Result<void>{};
            });
        });
        r.del("/1.0/instances/{name}", [this](const Request& req) -> base::Result<Response> {
            record(req);
            std::string name = req.param("name");
            json inst = instance(name);
            if (inst.is_null()) return apitypes::http_error(404, "Instance not found");
            if (inst["status"] != "Stopped") return apitypes::http_error(400, "Instance is running");
            return task(name, [this, name] {
                std::lock_guard lk(mu_);
                instances_.erase(name);
                return base::Result<void>{};
            });
        });
        r.post("/1.0/instances/{name}", [this](const Request& req) -> base::Result<Response> {
            record(req);
            json inst = instance(req.param("name"));
            if (inst.is_null()) return apitypes::http_error(404, "Instance not found");
            std::string old = req.param("name");
            std::string to = req.json_body()->value("name", "");
            return task(old, [this, inst, old, to]() mutable {
                std::lock_guard lk(mu_);
                instances_.erase(old);
                inst["name"] = to;
                instances_[to] = inst;
                return base::Result<void>{};
            });
        });
        r.get("/1.0/instances/{name}/state", [this](const Request& req) -> base::Result<Response> {
            record(req);
            json inst = instance(req.param("name"));
            if (inst.is_null()) return apitypes::http_error(404, "Instance not found");
            return Response::sync(full(inst)["state"]);
        });
        r.put("/1.0/instances/{name}/state", [this](const Request& req) -> base::Result<Response> {
            record(req);
            json inst = instance(req.param("name"));
            if (inst.is_null()) return apitypes::http_error(404, "Instance not found");
            LXM_TRY(auto put, req.body_as<apitypes::InstanceStatePut>());
            std::string now = inst["status"];
            std::string next;
            if (put.action == "start") next = now == "Stopped" ? "Running" : "";
            if (put.action == "stop") next = now != "Stopped" ? "Stopped" : "";
            if (put.action == "restart") next = now == "Running" ? "Running" : "";
            if (put.action == "freeze") next = now == "Running" ? "Frozen" : "";
            if (put.action == "unfreeze") next = now == "Frozen" ? "Running" : "";
            if (next.empty()) return apitypes::http_error(400, "The instance is already " + now);
            inst["status"] = next;
            return task(req.param("name"), [this, inst] {
                put_instance(inst);
                return base::Result<void>{};
            });
        });
        r.get("/1.0/instances/{name}/snapshots", [this](const Request& req) -> base::Result<Response> {
            record(req);
            json inst = instance(req.param("name"));
            if (inst.is_null()) return apitypes::http_error(404, "Instance not found");
            return Response::sync(inst["snapshots"]);
        });
        r.post("/1.0/instances/{name}/snapshots", [this](const Request& req) -> base::Result<Response> {
            record(req);
            json inst = instance(req.param("name"));
            if (inst.is_null()) return apitypes::http_error(404, "Instance not found");
            std::string snap = req.json_body()->value("name", "");
            if (snap.empty()) snap = "snap" + std::to_string(inst["snapshots"].size());
            inst["snapshots"].push_back(
                {{"name", snap}, {"created_at", "2026-11-23T04:05:06Z"}, {"stateful", false}});
            return task(req.param("name"), [this, inst] {
                put_instance(inst);
                return base::Result<void>{};
            });
        });
        r.post("/1.0/instances/{name}/exec", [this, &ops](const Request& req) -> base::Result<Response> {
            record(req);
            json inst = instance(req.param("name"));
            if (inst.is_null()) return apitypes::http_error(404, "Instance not found");
            if (inst["status"] != "Running") return apitypes::http_error(400, "Instance is not running");
            LXM_TRY(auto body, req.body_as<apitypes::InstanceExecPost>());
            std::map<std::string, std::string> secrets, by_secret;
            for (auto s : {"0", "1", "2", "control"}) {
                secrets[s] = api::Operations::random_secret();
                by_secret[secrets[s]] = s;
            }
            LXM_TRY(auto op, ops.create({
                                 .op_class = api::OperationClass::websocket,
                                 .description = "Executing command",
                                 .metadata = {{"fds", secrets}},
                                 .run = [cmd = body.command](OperationContext& ctx) { return run_exec(ctx, cmd); },
                                 .websockets = by_secret,
                             }));
            return Response::async(op->snapshot());
        });
        r.get("/1.0/instances/{name}/console", [this](const Request& req) -> base::Result<Response> {
            record(req);
            if (instance(req.param("name")).is_null()) return apitypes::http_error(404, "Instance not found");
            return Response::raw(200, "application/octet-stream", "console of " + req.param("name") + ": booted\n");
        });
        r.post("/1.0/instances/{name}/files", [this](const Request& req) -> base::Result<Response> {
            record(req);
            std::lock_guard lk(mu_);
            files_[req.param("name") + ":" + req.query_value("path").value_or("")] = {req.body, req.headers};
            return Response::empty();
        });
        r.get("/1.0/instances/{name}/files", [this](const Request& req) -> base::Result<Response> {
            record(req);
            std::lock_guard lk(mu_);
            auto it = files_.find(req.param("name") + ":" + req.query_value("path").value_or(""));
            if (it == files_.end()) return apitypes::http_error(404, "Not found");
            return Response::raw(200, "application/octet-stream", it->second.first)
                .with_header("X-LXD-type", "file")
                .with_header("X-LXD-mode", "0600");
        });
        r.get("/1.0/profiles", [this](const Request& req) -> base::Result<Response> {
            record(req);
            return Response::sync(json::array(
                {{{"name", "default"}, {"description", "Default profile"}, {"config", json::object()},
                  {"devices", json::object()}, {"used_by", {"/1.0/instances/c1"}}}}));
        });
    }

    std::unique_ptr<api::Api> api_;
    std::mutex mu_;
    std::vector<Recorded> log_;
    std::map<std::string, json> instances_;
    std::map<std::string, std::pair<std::string, std::map<std::string, std::string>>> files_;
};

struct CliRun {
    int rc = -1;
    std::string out, err;
};

class CliE2E : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv("LXM_DIR", dir_.path().c_str(), 1);
        server_ = std::make_unique<FakeLxd>(dir_ / "unix.socket");
    }
    void TearDown() override {
        server_.reset();
        ::unsetenv("LXM_DIR");
    }

    static std::string slurp(const std::string& path) {
        std::ifstream f(path);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }

    // Start lxm with args; stdin from `input`.
    pid_t spawn(const std::vector<std::string>& args, const std::string& input = "") {
        std::ofstream(dir_ / "in") << input;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, (dir_ / "in").c_str(), O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, (dir_ / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, (dir_ / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        std::string bin = test::bin("lxm");
        std::vector<std::string> argv = {bin};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> cargs;
        for (auto& a : argv) cargs.push_back(a.data());
        cargs.push_back(nullptr);
        pid_t pid = -1;
        int rc = ::posix_spawn(&pid, bin.c_str(), &fa, nullptr, cargs.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        EXPECT_EQ(rc, 0) << "spawn " << bin;
        return pid;
    }
    CliRun finish(pid_t pid) {
        CliRun r;
        int status = 0;
        ::waitpid(pid, &status, 0);
        r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        r.out = slurp(dir_ / "out");
        r.err = slurp(dir_ / "err");
        return r;
    }
    CliRun lxm(const std::vector<std::string>& args, const std::string& input = "") { return finish(spawn(args, input)); }

    void launch(const std::string& name) {
        auto r = lxm({"launch", "busybox", name});
        ASSERT_EQ(r.rc, 0) << r.err;
    }

    test::TempDir dir_{"cli"};
    std::unique_ptr<FakeLxd> server_;
};

TEST_F(CliE2E, LaunchSendsLxdRequestsAndStarts) {
    auto r = lxm({"launch", "busybox", "c1", "-c", "limits.cpu=2", "-p", "default"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "Creating c1\nStarting c1\n");
    auto posts = server_->requests("POST", "/1.0/instances");
    ASSERT_EQ(posts.size(), 1u);
    auto& body = posts[0].body;
    EXPECT_EQ(body["name"], "c1");
    EXPECT_EQ(body["type"], "container");
    EXPECT_EQ(body["source"]["type"], "image");
    EXPECT_EQ(body["source"]["alias"], "busybox");
    EXPECT_EQ(body["config"], json({{"limits.cpu", "2"}}));
    EXPECT_EQ(body["profiles"], json({"default"}));
    auto states = server_->requests("PUT", "/1.0/instances/c1/state");
    ASSERT_EQ(states.size(), 1u);
    EXPECT_EQ(states[0].body["action"], "start");
    EXPECT_EQ(server_->instance("c1")["status"], "Running");
}

TEST_F(CliE2E, LaunchErrorsAreFriendly) {
    auto r = lxm({"launch", "nosuchimage", "c1"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "Error: Image \"nosuchimage\" not found\n");
    launch("c1");
    auto dup = lxm({"init", "busybox", "c1"});
    EXPECT_EQ(dup.rc, 1);
    EXPECT_NE(dup.err.find("Error: Instance \"c1\" already exists"), std::string::npos) << dup.err;
}

TEST_F(CliE2E, LaunchWithoutNameReportsServerChosenName) {
    auto r = lxm({"launch", "busybox"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("Instance name is: auto-name"), std::string::npos) << r.out;
    EXPECT_EQ(server_->instance("auto-name")["status"], "Running");
}

TEST_F(CliE2E, InitEmptyTakesTheOnePositionalAsTheName) {
    auto r = lxm({"init", "--empty", "e1"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "Creating e1\n");
    auto posts = server_->requests("POST", "/1.0/instances");
    ASSERT_EQ(posts.size(), 1u);
    EXPECT_EQ(posts[0].body["name"], "e1");
    EXPECT_EQ(posts[0].body["source"], json({{"type", "none"}}));
    EXPECT_EQ(server_->instance("e1")["status"], "Stopped");
    // The flag after the name, and a local: remote prefix on it, as lxc accepts.
    ASSERT_EQ(lxm({"init", "local:e2", "--empty"}).rc, 0);
    posts = server_->requests("POST", "/1.0/instances");
    ASSERT_EQ(posts.size(), 2u);
    EXPECT_EQ(posts[1].body["name"], "e2");
    EXPECT_EQ(posts[1].body["source"]["type"], "none");
    // No name: the server picks one.
    auto unnamed = lxm({"init", "--empty"});
    ASSERT_EQ(unnamed.rc, 0) << unnamed.err;
    EXPECT_NE(unnamed.out.find("Instance name is: auto-name"), std::string::npos) << unnamed.out;
    // An image beside --empty is refused before any request.
    auto both = lxm({"init", "busybox", "e3", "--empty"});
    EXPECT_EQ(both.rc, 1);
    EXPECT_NE(both.err.find("--empty creates an instance without an image"), std::string::npos) << both.err;
    EXPECT_EQ(server_->requests("POST", "/1.0/instances").size(), 3u);
}

TEST_F(CliE2E, ListFormats) {
    launch("c1");
    ASSERT_EQ(lxm({"init", "busybox", "c2"}).rc, 0);
    auto t = lxm({"list"});
    ASSERT_EQ(t.rc, 0) << t.err;
    EXPECT_EQ(t.out,
              "+------+---------+-----------------+------+-----------+-----------+\n"
              "| NAME |  STATE  |      IPV4       | IPV6 |   TYPE    | SNAPSHOTS |\n"
              "+------+---------+-----------------+------+-----------+-----------+\n"
              "| c1   | RUNNING | 10.9.0.2 (eth0) |      | CONTAINER | 0         |\n"
              "+------+---------+-----------------+------+-----------+-----------+\n"
              "| c2   | STOPPED |                 |      | CONTAINER | 0         |\n"
              "+------+---------+-----------------+------+-----------+-----------+\n");
    auto gets = server_->requests("GET", "/1.0/instances?");
    ASSERT_FALSE(gets.empty());
    EXPECT_NE(gets.back().target.find("recursion=2"), std::string::npos);

    auto csv = lxm({"list", "-f", "csv", "-c", "nsp"});
    EXPECT_EQ(csv.out, "c1,RUNNING,4242\nc2,STOPPED,\n");
    auto js = lxm({"list", "--format", "json"});
    json arr = json::parse(js.out, nullptr, false);
    ASSERT_TRUE(arr.is_array()) << js.out;
    ASSERT_EQ(arr.size(), 2u);
    EXPECT_EQ(arr[0]["name"], "c1");
    EXPECT_EQ(arr[0]["state"]["pid"], 4242);
    auto yaml = lxm({"list", "-f", "yaml"});
    EXPECT_NE(yaml.out.find("- architecture: x86_64\n"), std::string::npos) << yaml.out;
    auto filtered = lxm({"list", "-f", "csv", "-c", "n", "status=stopped"});
    EXPECT_EQ(filtered.out, "c2\n");
    auto bad = lxm({"list", "-c", "nZ"});
    EXPECT_EQ(bad.rc, 1);
    EXPECT_NE(bad.err.find("Error: unknown column shorthand char 'Z'"), std::string::npos) << bad.err;
}

TEST_F(CliE2E, ExecStreamsAndReturnsExitCode) {
    launch("c1");
    auto three = lxm({"exec", "c1", "--", "sh", "-c", "exit 3"});
    EXPECT_EQ(three.rc, 3) << three.err;
    auto posts = server_->requests("POST", "/1.0/instances/c1/exec");
    ASSERT_EQ(posts.size(), 1u);
    EXPECT_EQ(posts[0].body["command"], json({"sh", "-c", "exit 3"}));
    EXPECT_EQ(posts[0].body["wait-for-websocket"], true);
    EXPECT_EQ(posts[0].body["interactive"], false);  // stdin is a file here

    auto io = lxm({"exec", "c1", "--env", "FOO=bar", "--", "sh", "-c", "tr a-z A-Z; echo oops >&2"}, "hello\n");
    EXPECT_EQ(io.rc, 0) << io.err;
    EXPECT_EQ(io.out, "HELLO\n");
    EXPECT_EQ(io.err, "oops\n");
    auto env_posts = server_->requests("POST", "/1.0/instances/c1/exec");
    EXPECT_EQ(env_posts.back().body["environment"]["FOO"], "bar");

    auto big = lxm({"exec", "c1", "--", "sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"});
    EXPECT_EQ(big.rc, 0);
    EXPECT_EQ(big.out.size(), 300000u);

    auto missing = lxm({"exec", "c1", "--", "/no/such/command"});
    EXPECT_EQ(missing.rc, 127);
    EXPECT_NE(missing.err.find("Error: Command not found"), std::string::npos) << missing.err;

    auto stopped = lxm({"exec", "nope", "--", "true"});
    EXPECT_EQ(stopped.rc, 1);
    EXPECT_EQ(stopped.err, "Error: Instance not found\n");
}

TEST_F(CliE2E, ExecForwardsSignals) {
    launch("c1");
    pid_t pid = spawn({"exec", "c1", "--", "sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.1; done"});
    // Wait until the command runs (the exec op has its websockets), then signal the CLI.
    for (int i = 0; i < 100 && server_->requests("POST", "/1.0/instances/c1/exec").empty(); ++i)
        std::this_thread::sleep_for(20ms);
    std::this_thread::sleep_for(500ms);
    ::kill(pid, SIGTERM);
    auto r = finish(pid);
    EXPECT_EQ(r.rc, 42) << r.err;
}

TEST_F(CliE2E, StopStartPauseRestartDelete) {
    launch("c1");
    auto again = lxm({"start", "c1"});
    EXPECT_EQ(again.rc, 1);
    EXPECT_NE(again.err.find("Error: The instance is already Running"), std::string::npos) << again.err;

    ASSERT_EQ(lxm({"pause", "c1"}).rc, 0);
    EXPECT_EQ(server_->instance("c1")["status"], "Frozen");
    ASSERT_EQ(lxm({"start", "c1"}).rc, 0);  // start on a frozen instance resumes it
    EXPECT_EQ(server_->requests("PUT", "/1.0/instances/c1/state").back().body["action"], "unfreeze");
    EXPECT_EQ(server_->instance("c1")["status"], "Running");

    auto running = lxm({"delete", "c1"});
    EXPECT_EQ(running.rc, 1);
    EXPECT_NE(running.err.find("stop it first"), std::string::npos) << running.err;

    ASSERT_EQ(lxm({"stop", "c1", "--force", "--timeout", "7"}).rc, 0);
    auto stop = server_->requests("PUT", "/1.0/instances/c1/state").back().body;
    EXPECT_EQ(stop["action"], "stop");
    EXPECT_EQ(stop["force"], true);
    EXPECT_EQ(stop["timeout"], 7);
    ASSERT_EQ(lxm({"start", "c1"}).rc, 0);
    ASSERT_EQ(lxm({"restart", "c1"}).rc, 0);
    EXPECT_EQ(server_->requests("PUT", "/1.0/instances/c1/state").back().body["action"], "restart");

    ASSERT_EQ(lxm({"delete", "--force", "c1"}).rc, 0);
    EXPECT_TRUE(server_->instance("c1").is_null());
    EXPECT_EQ(server_->requests("DELETE", "/1.0/instances/c1").size(), 1u);
    auto gone = lxm({"info", "c1"});
    EXPECT_EQ(gone.rc, 1);
    EXPECT_EQ(gone.err, "Error: Instance not found\n");
}

TEST_F(CliE2E, InfoConsoleSnapshotRename) {
    launch("c1");
    ASSERT_EQ(lxm({"snapshot", "c1", "s0"}).rc, 0);
    EXPECT_EQ(server_->requests("POST", "/1.0/instances/c1/snapshots").back().body["name"], "s0");
    auto info = lxm({"info", "c1"});
    ASSERT_EQ(info.rc, 0) << info.err;
    EXPECT_NE(info.out.find("Name: c1\nStatus: RUNNING\nType: container\n"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("PID: 4242\n"), std::string::npos);
    EXPECT_NE(info.out.find("    Memory (current): 2.00MiB\n"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("        inet:  10.9.0.2/24 (global)\n"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("| s0   | 2026/11/23 04:05 UTC |"), std::string::npos) << info.out;

    auto log = lxm({"console", "c1", "--show-log"});
    EXPECT_EQ(log.rc, 0);
    EXPECT_EQ(log.out, "console of c1: booted\n");

    ASSERT_EQ(lxm({"restore", "c1", "s0"}).rc, 0);
    EXPECT_EQ(server_->requests("PUT", "/1.0/instances/c1").back().body["restore"], "c1/s0");

    ASSERT_EQ(lxm({"stop", "c1"}).rc, 0);
    ASSERT_EQ(lxm({"move", "c1", "c2"}).rc, 0);
    EXPECT_EQ(server_->requests("POST", "/1.0/instances/c1").back().body["name"], "c2");
    EXPECT_FALSE(server_->instance("c2").is_null());
}

TEST_F(CliE2E, ConfigSetGetUnsetShowEdit) {
    launch("c1");
    ASSERT_EQ(lxm({"config", "set", "c1", "limits.memory", "256MiB"}).rc, 0);
    ASSERT_EQ(lxm({"config", "set", "c1", "user.a=1", "user.b=two"}).rc, 0);
    // Writes carry the ETag of what was read (optimistic locking, If-Match).
    std::vector<Recorded> puts;
    for (auto& r : server_->requests("PUT", "/1.0/instances/c1"))
        if (r.target == "/1.0/instances/c1") puts.push_back(r);
    ASSERT_EQ(puts.size(), 2u);
    EXPECT_FALSE(puts[0].headers["if-match"].empty());
    EXPECT_EQ(lxm({"config", "get", "c1", "limits.memory"}).out, "256MiB\n");
    EXPECT_EQ(lxm({"config", "get", "c1", "user.b"}).out, "two\n");
    ASSERT_EQ(lxm({"config", "unset", "c1", "user.a"}).rc, 0);
    auto unset_again = lxm({"config", "unset", "c1", "user.a"});
    EXPECT_EQ(unset_again.rc, 1);
    EXPECT_NE(unset_again.err.find("not currently set"), std::string::npos);

    auto show = lxm({"config", "show", "c1"});
    EXPECT_NE(show.out.find("config:\n  limits.memory: 256MiB\n  user.b: two\n"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("profiles:\n- default\n"), std::string::npos) << show.out;

    // edit reads the new definition from stdin when it is not a terminal.
    json edited = {{"config", {{"user.c", "3"}}}, {"profiles", {"default"}}, {"devices", json::object()}};
    ASSERT_EQ(lxm({"config", "edit", "c1"}, edited.dump()).rc, 0);
    EXPECT_EQ(server_->instance("c1")["config"], json({{"user.c", "3"}}));
    auto bad = lxm({"config", "edit", "c1"}, "not a mapping");
    EXPECT_EQ(bad.rc, 1);
    EXPECT_EQ(bad.err, "Error: the edited text is not a YAML mapping\n");
    ASSERT_EQ(lxm({"config", "edit", "c1"}, "config:\n  limits.cpu: 4\nprofiles:\n- default\n").rc, 0);
    EXPECT_EQ(server_->instance("c1")["config"], json({{"limits.cpu", "4"}}));

    ASSERT_EQ(lxm({"profile", "assign", "c1", "default,extra"}).rc, 0);
    EXPECT_EQ(server_->instance("c1")["profiles"], json({"default", "extra"}));
    auto plist = lxm({"profile", "list"});
    EXPECT_NE(plist.out.find("| default | Default profile | 1       |"), std::string::npos) << plist.out;
}

TEST_F(CliE2E, FilePushPull) {
    launch("c1");
    std::string src = dir_ / "hello.txt";
    std::ofstream(src) << "hello file\n";
    ::chmod(src.c_str(), 0640);
    auto push = lxm({"file", "push", src, "c1/root/", "--uid", "1000"});
    ASSERT_EQ(push.rc, 0) << push.err;
    auto files = server_->files();
    ASSERT_EQ(files.count("c1:/root/hello.txt"), 1u);
    EXPECT_EQ(files["c1:/root/hello.txt"].first, "hello file\n");
    auto& headers = files["c1:/root/hello.txt"].second;
    EXPECT_EQ(headers["x-lxd-mode"], "0640");
    EXPECT_EQ(headers["x-lxd-uid"], "1000");
    EXPECT_EQ(headers.count("x-lxd-gid"), 0u);
    EXPECT_EQ(headers["x-lxd-type"], "file");

    std::string dest = dir_ / "back.txt";
    ASSERT_EQ(lxm({"file", "pull", "c1/root/hello.txt", dest}).rc, 0);
    EXPECT_EQ(slurp(dest), "hello file\n");
    auto out = lxm({"file", "pull", "c1/root/hello.txt", "-"});
    EXPECT_EQ(out.out, "hello file\n");
    auto missing = lxm({"file", "pull", "c1/nope", dest});
    EXPECT_EQ(missing.rc, 1);
    EXPECT_EQ(missing.err, "Error: Not found\n");
}

TEST_F(CliE2E, NoDaemonAndUsageErrors) {
    server_.reset();
    auto r = lxm({"list"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find("Error: cannot connect to lxmd at " + (dir_ / "unix.socket")), std::string::npos) << r.err;
    auto usage = lxm({"stop"});
    EXPECT_EQ(usage.rc, 1);
    auto v = lxm({"version"});
    EXPECT_EQ(v.rc, 0);
    EXPECT_EQ(v.out, std::string("Client version: ") + LXM_VERSION + "\nServer version: unreachable\n");
}

}  // namespace
}  // namespace lxm
