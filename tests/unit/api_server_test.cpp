// The API transport end to end over a unix socket in a temp dir (no root):
// envelope, errors, limits, operations (wait, events, cancel, websockets),
// trust rules, concurrency, and the real `lxc` client when installed.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <thread>

#include "lxm/api/api.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/instance.hpp"
#include "lxm/client/client.hpp"
#include "lxm/base/file.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm;
using namespace std::chrono_literals;
using api::OperationContext;
using api::Request;
using api::Response;
using nlohmann::json;

namespace {

int http_status(const base::Error& e) { return apitypes::http_status_of(e); }

// Send raw bytes, return the raw HTTP response (for bodies the client would not produce).
std::string raw_http(const std::string& sock, const std::string& request) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, sock.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return {};
    }
    (void)!::write(fd, request.data(), request.size());
    ::shutdown(fd, SHUT_WR);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
}

std::string run_cmd(const std::string& cmd, int* status) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = ::pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

class ApiServer : public ::testing::Test {
protected:
    void SetUp() override {
        sock_ = dir_ / "unix.socket";
        api::ApiOptions opts;
        opts.operations.retain = 2s;
        opts.server.trust = [this](const api::Peer& p) {
            return trust_all_.load() && p.kind == api::Peer::Kind::unix_socket;
        };
        api_ = std::make_unique<api::Api>(opts);
        add_test_routes(api_->router());
        ASSERT_TRUE(api_->listen_unix(sock_));
        api_->start();
    }
    void TearDown() override { api_->stop(1s); }

    void add_test_routes(api::Router& r) {
        auto& ops = api_->operations();
        // Echoes a parsed InstanceStatePut (400 on malformed JSON); small body limit.
        r.add("POST", "/1.0/test/state",
              api::Route{[](const Request& req) -> base::Result<Response> {
                             LXM_TRY(auto put, req.body_as<apitypes::InstanceStatePut>());
                             return Response::sync(json(put));
                         },
                         false, false, 1024});
        // A task that sleeps ms and reports progress; ?fail=1 makes it fail.
        r.post("/1.0/test/ops", [&ops](const Request& req) -> base::Result<Response> {
            int ms = std::stoi(req.query_value("ms").value_or("100"));
            bool fail = req.query_value("fail").has_value();
            bool cancellable = req.query_value("cancel").has_value();
            LXM_TRY(auto op, ops.create({
                                 .description = "Testing",
                                 .resources = {{"instances", {"/1.0/instances/t"}}},
                                 .may_cancel = cancellable,
                                 .run = [ms, fail](OperationContext& ctx) -> base::Result<void> {
                                     ctx.update_metadata({{"progress", "half"}});
                                     auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
                                     while (std::chrono::steady_clock::now() < end) {
                                         if (ctx.cancelled())
                                             return base::make_error(std::errc::operation_canceled, "stopped");
                                         std::this_thread::sleep_for(5ms);
                                     }
                                     if (fail) return base::make_error(std::errc::io_error, "it broke");
                                     return {};
                                 },
                             }));
            return Response::async(op->snapshot());
        });
        // A websocket op: echoes one message on stream "0", then ends.
        r.post("/1.0/test/echo", [&ops](const Request&) -> base::Result<Response> {
            std::string secret = api::Operations::random_secret();
            LXM_TRY(auto op, ops.create({
                                 .op_class = api::OperationClass::websocket,
                                 .description = "Echo",
                                 .metadata = {{"fds", {{"0", secret}}}},
                                 .run = [](OperationContext& ctx) -> base::Result<void> {
                                     LXM_TRY(auto socks, ctx.wait_websockets({"0"}, 5s));
                                     auto ws = socks.at("0");
                                     LXM_TRY(auto m, ws.read());
                                     LXM_TRY_VOID(ws.write(api::WsMessage{true, "echo:" + m.data}));
                                     LXM_TRY_VOID(ws.write(api::WsMessage{false, ""}));  // barrier
                                     ctx.update_metadata({{"return", 0}});
                                     ws.close();
                                     return {};
                                 },
                                 .websockets = {{secret, "0"}},
                             }));
            return Response::async(op->snapshot());
        });
        // Blocking route (slow kernel work stand-in).
        r.add("GET", "/1.0/test/slow",
              api::Route{[](const Request&) -> base::Result<Response> {
                             std::this_thread::sleep_for(1500ms);
                             return Response::sync("slow");
                         },
                         false, true});
        // Instance-shaped routes: alias, filter, ETag.
        r.get("/1.0/instances", [](const Request& req) -> base::Result<Response> {
            json all = json::array();
            for (auto name : {"c1", "c2"}) {
                json inst{{"name", name}};
                if (!req.filter || req.filter->matches(inst)) all.push_back(req.url(std::string("/1.0/instances/") + name));
            }
            return Response::sync(all);
        });
        r.get("/1.0/instances/{name}", [](const Request& req) -> base::Result<Response> {
            if (req.param("name") != "c1") return apitypes::http_error(404, "Instance not found");
            json state{{"name", "c1"}, {"config", json::object()}};
            return Response::sync_etag(state, api::etag_hash(state));
        });
        r.put("/1.0/instances/{name}", [](const Request& req) -> base::Result<Response> {
            json state{{"name", "c1"}, {"config", json::object()}};
            LXM_TRY_VOID(api::etag_check(req, state));
            return Response::empty();
        });
        r.get("/1.0/test/errno", [](const Request&) -> base::Result<Response> {
            return base::errno_error("open /nowhere", ENOENT);
        });
    }

    client::Client connect() {
        auto c = client::Client::connect_unix(sock_);
        EXPECT_TRUE(c) << (c ? "" : c.error().message());
        return std::move(*c);
    }

    test::TempDir dir_{"api"};
    std::string sock_;
    std::atomic<bool> trust_all_{true};
    std::unique_ptr<api::Api> api_;
};

}  // namespace

TEST_F(ApiServer, RootAndServerInfo) {
    auto c = connect();
    auto root = c.get("/");
    ASSERT_TRUE(root) << root.error().message();
    EXPECT_EQ(*root, json::array({"/1.0"}));

    auto r = c.query("GET", "/1.0");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->http_status, 200);
    EXPECT_EQ(r->type, "sync");
    EXPECT_EQ(r->status_code, 200);
    auto info = c.server_info();
    ASSERT_TRUE(info);
    EXPECT_EQ(info->auth, "trusted");
    EXPECT_EQ(info->api_version, "1.0");
    EXPECT_NE(std::find(info->api_extensions.begin(), info->api_extensions.end(), "api_filtering"),
              info->api_extensions.end());
    ASSERT_TRUE(info->environment);
    EXPECT_EQ(info->environment->server, "lxm");
    EXPECT_EQ(info->environment->server_pid, ::getpid());
    EXPECT_FALSE(info->environment->server_clustered);
}

TEST_F(ApiServer, ErrorEnvelopes) {
    auto c = connect();
    auto nf = c.get("/1.0/nope");
    ASSERT_FALSE(nf);
    EXPECT_EQ(http_status(nf.error()), 404);
    EXPECT_EQ(apitypes::user_message(nf.error()), "not found");

    auto na = c.del("/1.0");
    ASSERT_FALSE(na);
    EXPECT_EQ(http_status(na.error()), 405);

    auto en = c.get("/1.0/test/errno");
    ASSERT_FALSE(en);
    EXPECT_EQ(http_status(en.error()), 404);
    EXPECT_EQ(apitypes::user_message(en.error()), "open /nowhere: No such file or directory");

    // The wire shape of an error, exactly.
    auto raw = raw_http(sock_, "GET /1.0/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(raw.find("HTTP/1.1 404"), std::string::npos);
    auto body = json::parse(raw.substr(raw.find("\r\n\r\n") + 4));
    EXPECT_EQ(body, json::parse(R"({"type":"error","error":"not found","error_code":404,"metadata":null})"));
}

TEST_F(ApiServer, MalformedJsonAndOversizedBody) {
    std::string bad = "{\"action\": ";
    auto raw = raw_http(sock_, "POST /1.0/test/state HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               "Content-Length: " + std::to_string(bad.size()) + "\r\nConnection: close\r\n\r\n" + bad);
    EXPECT_NE(raw.find("HTTP/1.1 400"), std::string::npos) << raw;
    EXPECT_NE(raw.find("malformed JSON"), std::string::npos);

    auto c = connect();
    auto wrong_type = c.post("/1.0/test/state", json{{"action", 5}});
    ASSERT_FALSE(wrong_type);
    EXPECT_EQ(http_status(wrong_type.error()), 400);

    auto ok = c.post("/1.0/test/state", json{{"action", "stop"}, {"timeout", -1}});
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->metadata["action"], "stop");

    auto big = c.post("/1.0/test/state", json{{"action", std::string(4096, 'x')}});
    ASSERT_FALSE(big);
    EXPECT_EQ(http_status(big.error()), 413);
    EXPECT_NE(apitypes::user_message(big.error()).find("limit 1024"), std::string::npos);
    // The client reconnects after the server closed the connection.
    EXPECT_TRUE(c.get("/1.0"));

    std::string huge_header(70 * 1024, 'a');
    raw = raw_http(sock_, "GET /1.0 HTTP/1.1\r\nHost: x\r\nX-Big: " + huge_header + "\r\n\r\n");
    EXPECT_NE(raw.find("HTTP/1.1 431"), std::string::npos);
}

TEST_F(ApiServer, AsyncOperationWaitedWithWait) {
    auto c = connect();
    auto r = c.post("/1.0/test/ops?ms=200", json::object());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->http_status, 202);
    EXPECT_EQ(r->type, "async");
    EXPECT_EQ(r->status_code, 100);
    auto op = r->metadata.get<apitypes::Operation>();
    EXPECT_EQ(r->operation, "/1.0/operations/" + op.id);
    EXPECT_EQ(r->location, r->operation);
    EXPECT_EQ(op.status, "Running");
    EXPECT_EQ(op.resources["instances"][0], "/1.0/instances/t");

    auto done = c.wait_operation(r->operation, -1);
    ASSERT_TRUE(done) << done.error().message();
    EXPECT_EQ(done->status_code, apitypes::StatusCode::success);
    EXPECT_EQ(done->metadata["progress"], "half");

    auto listed = c.get("/1.0/operations");
    ASSERT_TRUE(listed);
    EXPECT_EQ((*listed)["success"][0], r->operation);

    auto f = c.post("/1.0/test/ops?ms=10&fail=1", json::object());
    ASSERT_TRUE(f);
    auto failed = c.wait_operation(f->operation);
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->status, "Failure");
    EXPECT_EQ(failed->err, "it broke: Input/output error");
    auto ws = c.wait_success(f->operation);
    ASSERT_FALSE(ws);
}

TEST_F(ApiServer, AsyncOperationFollowedByEvents) {
    auto c = connect();
    auto ev = c.websocket("/1.0/events?type=operation");
    ASSERT_TRUE(ev) << ev.error().message();
    // Subscribed before the request, as lxc does.
    for (int i = 0; i < 100 && api_->events().subscribers() == 0; ++i) std::this_thread::sleep_for(10ms);
    auto r = c.post("/1.0/test/ops?ms=100", json::object());
    ASSERT_TRUE(r);
    std::string id = r->metadata["id"];
    std::vector<std::string> statuses;
    for (;;) {
        auto f = ev->read();
        ASSERT_TRUE(f) << f.error().message();
        EXPECT_FALSE(f->binary);
        auto e = json::parse(f->data).get<apitypes::Event>();
        EXPECT_EQ(e.type, "operation");
        if (e.metadata["id"] != id) continue;
        statuses.push_back(e.metadata["status"]);
        if (statuses.back() == "Success") break;
    }
    ASSERT_GE(statuses.size(), 3u);
    EXPECT_EQ(statuses.front(), "Pending");
    EXPECT_EQ(statuses[1], "Running");
    EXPECT_EQ(statuses.back(), "Success");

    auto bad = c.websocket("/1.0/events?type=bogus");
    ASSERT_FALSE(bad);
    EXPECT_EQ(http_status(bad.error()), 400);
}

TEST_F(ApiServer, CancelAndWaitTimeout) {
    auto c = connect();
    auto r = c.post("/1.0/test/ops?ms=60000&cancel=1", json::object());
    ASSERT_TRUE(r);
    auto t0 = std::chrono::steady_clock::now();
    auto still = c.wait_operation(r->operation, 1);
    ASSERT_TRUE(still);
    EXPECT_EQ(still->status_code, apitypes::StatusCode::running);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);

    ASSERT_TRUE(c.del(r->operation));
    auto done = c.wait_operation(r->operation, 10);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, "Cancelled");
    EXPECT_EQ(done->status_code, apitypes::StatusCode::cancelled);

    auto again = c.del(r->operation);
    ASSERT_FALSE(again);
    EXPECT_EQ(http_status(again.error()), 400);

    auto nc = c.post("/1.0/test/ops?ms=300", json::object());
    ASSERT_TRUE(nc);
    auto refused = c.del(nc->operation);
    ASSERT_FALSE(refused);
    EXPECT_EQ(http_status(refused.error()), 400);
    ASSERT_TRUE(c.wait_success(nc->operation));
}

TEST_F(ApiServer, FinishedOperationsAreForgotten) {
    auto c = connect();
    auto r = c.post("/1.0/test/ops?ms=1", json::object());
    ASSERT_TRUE(r);
    ASSERT_TRUE(c.wait_success(r->operation));
    EXPECT_TRUE(c.get(r->operation));
    std::this_thread::sleep_for(2500ms);  // retain is 2 s in this fixture (LXD: 5 s)
    auto gone = c.get(r->operation);
    ASSERT_FALSE(gone);
    EXPECT_EQ(http_status(gone.error()), 404);
}

TEST_F(ApiServer, WebSocketBySecret) {
    auto c = connect();
    auto r = c.post("/1.0/test/echo", json::object());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->metadata["class"], "websocket");
    std::string secret = r->metadata["metadata"]["fds"]["0"];

    auto wrong = c.websocket(r->operation + "/websocket?secret=nope");
    ASSERT_FALSE(wrong);
    EXPECT_EQ(http_status(wrong.error()), 403);

    auto ws = c.websocket(r->operation + "/websocket?secret=" + secret);
    ASSERT_TRUE(ws) << ws.error().message();
    ASSERT_TRUE(ws->write_binary("hello"));
    auto m = ws->read();
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_TRUE(m->binary);
    EXPECT_EQ(m->data, "echo:hello");
    auto barrier = ws->read();
    ASSERT_TRUE(barrier);
    EXPECT_FALSE(barrier->binary);
    EXPECT_EQ(barrier->data, "");
    auto closed = ws->read();
    ASSERT_FALSE(closed);
    EXPECT_EQ(closed.error().code, std::errc::not_connected);

    auto done = c.wait_success(r->operation);
    ASSERT_TRUE(done) << done.error().message();
    EXPECT_EQ(done->metadata["return"], 0);

    // A used secret does not work twice.
    auto reuse = c.websocket(r->operation + "/websocket?secret=" + secret);
    ASSERT_FALSE(reuse);
}

TEST_F(ApiServer, UntrustedPeers) {
    trust_all_ = false;  // test hook: every peer untrusted
    auto c = connect();
    auto info = c.server_info();
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->auth, "untrusted");
    EXPECT_FALSE(info->environment);
    EXPECT_TRUE(c.get("/"));
    auto ops = c.get("/1.0/operations");
    ASSERT_FALSE(ops);
    EXPECT_EQ(http_status(ops.error()), 403);
    auto ev = c.websocket("/1.0/events");
    ASSERT_FALSE(ev);
    EXPECT_EQ(http_status(ev.error()), 403);

    // The websocket route is open to untrusted callers: the secret is the credential.
    trust_all_ = true;
    auto t = connect();
    auto r = t.post("/1.0/test/echo", json::object());
    ASSERT_TRUE(r);
    std::string secret = r->metadata["metadata"]["fds"]["0"];
    trust_all_ = false;
    auto u = connect();
    auto nowait = u.wait_operation(r->operation, 0);
    ASSERT_FALSE(nowait);
    EXPECT_EQ(http_status(nowait.error()), 403);
    auto ws = u.websocket(r->operation + "/websocket?secret=" + secret);
    ASSERT_TRUE(ws) << ws.error().message();
    ASSERT_TRUE(ws->write_binary("x"));
    auto m = ws->read();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->data, "echo:x");
}

TEST_F(ApiServer, SlowWorkDoesNotBlockTheApi) {
    // Long polls and a blocking handler, more of them than io threads (2).
    std::vector<std::future<bool>> pending;
    auto c = connect();
    std::vector<std::string> ops;
    for (int i = 0; i < 4; ++i) {
        auto r = c.post("/1.0/test/ops?ms=1500", json::object());
        ASSERT_TRUE(r);
        ops.push_back(r->operation);
    }
    for (auto& op : ops)
        pending.push_back(std::async(std::launch::async, [this, op] {
            auto cc = client::Client::connect_unix(sock_);
            return cc && cc->wait_success(op).has_value();
        }));
    for (int i = 0; i < 3; ++i)
        pending.push_back(std::async(std::launch::async, [this] {
            auto cc = client::Client::connect_unix(sock_);
            return cc && cc->get("/1.0/test/slow").has_value();
        }));
    std::this_thread::sleep_for(200ms);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.get("/1.0"));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
    for (auto& p : pending) EXPECT_TRUE(p.get());
}

TEST_F(ApiServer, AliasFilterAndEtag) {
    auto c = connect();
    auto viaalias = c.get("/1.0/containers");
    ASSERT_TRUE(viaalias);
    EXPECT_EQ((*viaalias)[0], "/1.0/containers/c1");
    auto filtered = c.get("/1.0/instances?filter=name%20eq%20c2&recursion=0");
    ASSERT_TRUE(filtered);
    EXPECT_EQ(*filtered, json::array({"/1.0/instances/c2"}));
    EXPECT_TRUE(c.get("/1.0/instances?filter="));
    auto badf = c.get("/1.0/instances?filter=name%20gt%20c2");
    ASSERT_FALSE(badf);
    EXPECT_EQ(http_status(badf.error()), 400);

    auto one = c.query("GET", "/1.0/containers/c1");
    ASSERT_TRUE(one);
    ASSERT_FALSE(one->etag.empty());
    EXPECT_TRUE(c.query("PUT", "/1.0/instances/c1", json::object(), {{"If-Match", "\"" + one->etag + "\""}}));
    auto stale = c.query("PUT", "/1.0/instances/c1", json::object(), {{"If-Match", "\"deadbeef\""}});
    ASSERT_FALSE(stale);
    EXPECT_EQ(http_status(stale.error()), 412);
    auto missing = c.get("/1.0/containers/zz");
    ASSERT_FALSE(missing);
    EXPECT_EQ(apitypes::user_message(missing.error()), "Instance not found");
}

TEST_F(ApiServer, SocketFileRules) {
    // A live server keeps its socket.
    api::Executors ex;
    api::Router router;
    api::Server other(ex, router);
    auto busy = other.listen_unix(sock_);
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, std::errc::address_in_use);
    // A stale socket file (nobody listening) is replaced.
    std::string stale = dir_ / "stale.socket";
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, stale.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    ASSERT_TRUE(other.listen_unix(stale));
    struct stat st {};
    ASSERT_EQ(::stat(stale.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    // A regular file is not ours to remove.
    std::string file = dir_ / "file";
    ASSERT_TRUE(base::write_file(file, "x", true));
    EXPECT_FALSE(other.listen_unix(file));
}

TEST_F(ApiServer, RealLxcClient) {
    int st = 0;
    run_cmd("command -v lxc >/dev/null 2>&1", &st);
    if (st != 0) GTEST_SKIP() << "lxc (package lxd-client) is not installed";
    api_->server_info().extensions = {"api_filtering", "instances", "container_full"};
    test::TempDir home("lxchome");
    std::string env = "HOME=" + home.path() + " LXD_SOCKET=" + sock_ + " LXD_CONF=" + home.path() + "/.config/lxc ";
    // stderr apart: lxc prints a first-run banner there when it makes its client certificate.
    std::string errf = home.path() + "/stderr";
    auto out = run_cmd(env + "timeout 20 lxc query /1.0 2>" + errf, &st);
    ASSERT_EQ(st, 0) << out << base::read_file(errf).value_or("");
    auto j = json::parse(out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << out;
    EXPECT_EQ(j["auth"], "trusted");
    EXPECT_EQ(j["environment"]["server"], "lxm");

    // lxc list asks for /1.0/instances?filter=&recursion=2: serve an empty list.
    api_.reset();  // routes are fixed once listening: restart with the fake list
    api::ApiOptions opts;
    api_ = std::make_unique<api::Api>(opts);
    api_->server_info().extensions = {"api_filtering", "instances", "container_full"};
    api_->router().get("/1.0/instances", [](const Request& req) -> base::Result<Response> {
        EXPECT_EQ(req.recursion(), 2);
        return Response::sync(json::array());
    });
    auto& ops = api_->operations();
    api_->router().post("/1.0/test/ops", [&ops](const Request&) -> base::Result<Response> {
        LXM_TRY(auto op, ops.create({.description = "Testing",
                                     .run = [](OperationContext& ctx) -> base::Result<void> {
                                         std::this_thread::sleep_for(300ms);
                                         ctx.update_metadata({{"answer", 42}});
                                         return {};
                                     }}));
        return Response::async(op->snapshot());
    });
    ASSERT_TRUE(api_->listen_unix(sock_));
    api_->start();
    // --wait makes lxc subscribe to /1.0/events and wait for the final operation event.
    out = run_cmd(env + "timeout 20 lxc query --wait -X POST -d '{}' /1.0/test/ops 2>&1", &st);
    ASSERT_EQ(st, 0) << out;
    j = json::parse(out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << out;
    EXPECT_EQ(j["status"], "Success") << out;
    EXPECT_EQ(j["metadata"]["answer"], 42) << out;
    out = run_cmd(env + "timeout 20 lxc list --format csv 2>&1", &st);
    EXPECT_EQ(st, 0) << out;
    EXPECT_EQ(out, "");
    out = run_cmd(env + "timeout 20 lxc query /1.0/nope 2>&1", &st);
    EXPECT_NE(st, 0);
    EXPECT_NE(out.find("not found"), std::string::npos) << out;
}
