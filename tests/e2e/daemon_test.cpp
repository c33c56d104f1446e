// lxmd end to end: a real daemon on a temp state dir, busybox containers
// through the API (client library), restarts and kills of the daemon, crash
// consistency, recovery, bad input and the files API's symlink rules.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <set>
#include <thread>

#include "lxm/base/file.hpp"
#include "store/instances.hpp"
#include "store/store.hpp"
#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

using namespace std::chrono_literals;

// Send raw bytes, return everything the server answers until it closes (bounded by a 10 s timeout).
std::string raw_http(const std::string& sock, const std::string& request) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, sock.c_str(), sizeof a.sun_path - 1);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        (void)!::write(fd, request.data(), request.size());
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) {
            out.append(buf, static_cast<size_t>(n));
            if (out.find("\r\n\r\n") != std::string::npos && out.find("}") != std::string::npos) break;
        }
    }
    ::close(fd);
    return out;
}

class Daemon : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        ASSERT_TRUE(d_.start({}, &why)) << why;
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
    }

    json get(const std::string& path) {
        auto r = c_->get(path);
        EXPECT_TRUE(r) << path << ": " << (r ? "" : r.error().message());
        return r ? *r : json();
    }
    int status_of(const base::Error& e) { return apitypes::http_status_of(e); }
    int raw_status(const base::Result<client::Client::RawResponse>& r) {
        return r ? r->http_status : apitypes::http_status_of(r.error());
    }
    bool reconnect() {
        auto c = d_.client();
        if (!c) return false;
        c_.emplace(std::move(*c));
        return true;
    }
    std::string pool_dir(const std::string& name) { return d_.state() + "/storage-pools/default/containers/" + name; }

    Lxmd d_;
    std::optional<client::Client> c_;
};

TEST_F(Daemon, LaunchListExecStopStartDelete) {
    std::string n = Lxmd::name("life");
    ASSERT_EQ(launch(*c_, n, true), "");
    json list = get("/1.0/instances?recursion=2&filter=");
    ASSERT_TRUE(list.is_array());
    bool found = false;
    for (const auto& i : list) {
        if (i["name"] != n) continue;
        found = true;
        EXPECT_EQ(i["status"], "Running");
        EXPECT_GT(i["state"]["pid"].get<int64_t>(), 0);
        EXPECT_EQ(i["expanded_config"]["image.os"], "busybox");
    }
    EXPECT_TRUE(found) << list.dump();
    EXPECT_EQ(exec_code(*c_, n, {"true"}), 0);
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "exit 3"}), 3);
    EXPECT_EQ(exec_code(*c_, n, {"/no/such/binary"}), 127);

    // Running instances cannot be deleted.
    auto del = c_->del("/1.0/instances/" + n);
    ASSERT_FALSE(del);
    EXPECT_EQ(status_of(del.error()), 400);

    EXPECT_EQ(change_state(*c_, n, "stop"), "");
    EXPECT_EQ(get("/1.0/instances/" + n)["status"], "Stopped");
    EXPECT_EQ(change_state(*c_, n, "start"), "");
    EXPECT_EQ(get("/1.0/instances/" + n + "/state")["status"], "Running");
    EXPECT_EQ(change_state(*c_, n, "freeze"), "");
    EXPECT_EQ(get("/1.0/instances/" + n)["status"], "Frozen");
    EXPECT_EQ(change_state(*c_, n, "unfreeze"), "");
    EXPECT_EQ(change_state(*c_, n, "stop", true), "");
    auto r = c_->del("/1.0/instances/" + n);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE(c_->wait_success(r->operation));
    auto gone = c_->get("/1.0/instances/" + n);
    ASSERT_FALSE(gone);
    EXPECT_EQ(status_of(gone.error()), 404);
    EXPECT_FALSE(base::path_exists(pool_dir(n)));
}

TEST_F(Daemon, ContainersSurviveDaemonRestartAndKill) {
    std::string n = Lxmd::name("survive");
    ASSERT_EQ(launch(*c_, n, true), "");
    int64_t pid = get("/1.0/instances/" + n + "/state")["pid"].get<int64_t>();
    ASSERT_GT(pid, 0);
    for (int sig : {SIGTERM, SIGKILL}) {
        SCOPED_TRACE(sig);
        d_.stop(sig);
        EXPECT_EQ(::kill(static_cast<pid_t>(pid), 0), 0) << "init died with lxmd";
        std::string why;
        ASSERT_TRUE(d_.start({}, &why)) << why;
        ASSERT_TRUE(reconnect());
        json st = get("/1.0/instances/" + n + "/state");
        EXPECT_EQ(st["status"], "Running");
        EXPECT_EQ(st["pid"].get<int64_t>(), pid);
        EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "exit 7"}), 7);
    }
    EXPECT_EQ(change_state(*c_, n, "stop"), "");
    EXPECT_EQ(get("/1.0/instances/" + n)["status"], "Stopped");
}

TEST_F(Daemon, KillDuringConcurrentCreatesLeavesWholeInstancesOrNothing) {
    // Some instances exist before, to be deleted concurrently.
    std::vector<std::string> pre;
    for (int i = 0; i < 5; ++i) {
        pre.push_back(Lxmd::name("pre" + std::to_string(i)));
        ASSERT_EQ(launch(*c_, pre.back(), false), "");
    }
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int i = 0; i < 20; ++i) {
        ts.emplace_back([&, i] {
            auto c = d_.client();
            if (!c) return;
            while (!go) std::this_thread::yield();
            if (i < 5) {
                auto r = c->del("/1.0/instances/" + pre[static_cast<size_t>(i)]);
                if (r) (void)c->wait_operation(r->operation, 30);
            } else {
                std::string n = Lxmd::name("crash" + std::to_string(i));
                auto r = c->post("/1.0/instances",
                                 json{{"name", n}, {"source", {{"type", "image"}, {"alias", "busybox"}}}});
                if (r) (void)c->wait_operation(r->operation, 30);
            }
        });
    }
    go = true;
    std::this_thread::sleep_for(60ms);
    d_.stop(SIGKILL);
    for (auto& t : ts) t.join();

    std::string why;
    ASSERT_TRUE(d_.start({}, &why)) << why;  // reconcile runs before the socket opens
    ASSERT_TRUE(reconnect());
    {
        auto st = store::SqliteStore::open(d_.state() + "/database/lxm.db");
        ASSERT_TRUE(st) << st.error().message();
        auto ic = (*st)->integrity_check();
        EXPECT_TRUE(ic) << ic.error().message();
        auto recs = (*st)->read([](store::Transaction& tx) { return store::list_instances(tx, "default"); });
        ASSERT_TRUE(recs);
        std::set<std::string> rows;
        for (const auto& r : *recs) {
            rows.insert(r.name);
            EXPECT_FALSE(r.config.count("volatile.lxm.creating")) << r.name;
            EXPECT_FALSE(r.config.count("volatile.lxm.deleting")) << r.name;
            EXPECT_TRUE(base::path_exists(pool_dir(r.name))) << r.name << " has no root volume";
            EXPECT_TRUE(base::path_exists(pool_dir(r.name) + "/backup.json")) << r.name << " has no backup file";
        }
        // And no volume without a row.
        if (DIR* d = ::opendir((d_.state() + "/storage-pools/default/containers").c_str())) {
            while (auto* e = ::readdir(d)) {
                std::string n = e->d_name;
                if (n == "." || n == "..") continue;
                EXPECT_TRUE(rows.count(n)) << "volume " << n << " without a row";
            }
            ::closedir(d);
        }
    }
    // Everything left is usable: the list answers and each instance can be deleted.
    json list = get("/1.0/instances?recursion=1");
    for (const auto& i : list) {
        auto r = c_->del("/1.0/instances/" + i["name"].get<std::string>());
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(c_->wait_success(r->operation));
    }
}

TEST_F(Daemon, RecoverAfterDatabaseLoss) {
    std::string a = Lxmd::name("reca"), b = Lxmd::name("recb");
    ASSERT_EQ(launch(*c_, a, false, json{{"user.note", "kept"}, {"limits.memory", "256MiB"}}), "");
    ASSERT_EQ(launch(*c_, b, true), "");
    d_.stop(SIGTERM);
    for (const char* f : {"lxm.db", "lxm.db-wal", "lxm.db-shm"}) ::unlink((d_.state() + "/database/" + f).c_str());
    EXPECT_EQ(d_.run({"--recover"}), 0) << d_.log();
    std::string why;
    ASSERT_TRUE(d_.start({}, &why)) << why;
    ASSERT_TRUE(reconnect());
    json ia = get("/1.0/instances/" + a);
    EXPECT_EQ(ia["config"]["user.note"], "kept");
    EXPECT_EQ(ia["config"]["limits.memory"], "256MiB");
    EXPECT_EQ(ia["status"], "Stopped");
    EXPECT_EQ(get("/1.0/instances/" + b)["status"], "Running");
    EXPECT_EQ(exec_code(*c_, b, {"true"}), 0);
    EXPECT_EQ(change_state(*c_, b, "stop", true), "");
}

TEST_F(Daemon, BadInputGets4xxAndChangesNothing) {
    auto expect_status = [&](const std::string& what, const json& body, int want) {
        auto r = c_->post("/1.0/instances", body);
        ASSERT_FALSE(r) << what;
        EXPECT_EQ(status_of(r.error()), want) << what << ": " << r.error().message();
        EXPECT_FALSE(apitypes::user_message(r.error()).empty()) << what;
    };
    json src = {{"type", "image"}, {"alias", "busybox"}};
    expect_status("wrong type", json{{"name", 5}, {"source", src}}, 400);
    expect_status("config not an object", json{{"name", "x1"}, {"config", "a"}, {"source", src}}, 400);
    expect_status("unknown key", json{{"name", "x1"}, {"config", {{"raw.lxc", "x"}}}, {"source", src}}, 400);
    expect_status("bad limit", json{{"name", "x1"}, {"config", {{"limits.memory", "lots"}}}, {"source", src}}, 400);
    expect_status("volatile", json{{"name", "x1"}, {"config", {{"volatile.x", "1"}}}, {"source", src}}, 400);
    expect_status("traversal", json{{"name", "../x"}, {"source", src}}, 400);
    expect_status("long", json{{"name", std::string(300, 'a')}, {"source", src}}, 400);
    expect_status("empty", json{{"name", ""}, {"source", src}}, 400);
    expect_status("unknown alias", json{{"name", "x1"}, {"source", {{"type", "image"}, {"alias", "nope/1"}}}}, 404);
    expect_status("unknown source", json{{"name", "x1"}, {"source", {{"type", "copy"}}}}, 400);
    expect_status("no profile", json{{"name", "x1"}, {"profiles", {"nope"}}, {"source", src}}, 400);

    EXPECT_EQ(raw_status(c_->raw("POST", "/1.0/instances", "{not json", {{"Content-Type", "application/json"}})), 400);
    // Oversized: the transport answers 413 (Payload Too Large) from the Content-Length, before reading the body.
    std::string answer = raw_http(d_.socket(), "POST /1.0/instances HTTP/1.1\r\nHost: lxd\r\nContent-Type: "
                                               "application/json\r\nContent-Length: 2097152\r\n\r\n{\"name\":");
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413") << answer;
    EXPECT_NE(answer.find("too large"), std::string::npos) << answer;

    auto names = get("/1.0/instances");
    EXPECT_TRUE(names.empty()) << names.dump();
    // And the id pool: one range only, the second create fails cleanly with no row left.
    auto p = c_->patch("/1.0", json{{"config", {{"lxm.idmap.ranges", "1"}}}});
    ASSERT_TRUE(p) << p.error().message();
    ASSERT_EQ(launch(*c_, Lxmd::name("pool1"), false), "");
    std::string err = launch(*c_, Lxmd::name("pool2"), false);
    EXPECT_NE(err.find("No free host id range"), std::string::npos) << err;
    EXPECT_EQ(get("/1.0/instances").size(), 1u);
    EXPECT_FALSE(base::path_exists(pool_dir(Lxmd::name("pool2"))));
}

TEST_F(Daemon, FilesStayInsideTheContainer) {
    std::string n = Lxmd::name("files");
    ASSERT_EQ(launch(*c_, n, true), "");
    std::string base = "/1.0/instances/" + n + "/files?path=";
    auto push = c_->raw("POST", base + "/root/hello.txt", "hi there\n",
                        {{"X-LXD-uid", "1000"}, {"X-LXD-gid", "1000"}, {"X-LXD-mode", "0640"}});
    ASSERT_EQ(raw_status(push), 200) << (push ? push->body : push.error().message());
    auto pull = c_->raw("GET", base + "/root/hello.txt", "", {});
    ASSERT_TRUE(pull);
    EXPECT_EQ(pull->body, "hi there\n");
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(stat -c %u:%g:%a /root/hello.txt)\" = 1000:1000:640"}), 0);

    // A hostile symlink planted inside: /tmp/up -> ../../../../..; paths through it stay inside.
    ASSERT_EQ(exec_code(*c_, n, {"ln", "-s", "../../../../../../..", "/tmp/up"}), 0);
    auto passwd = c_->raw("GET", base + "/tmp/up/etc/passwd", "", {});
    ASSERT_TRUE(passwd);
    EXPECT_NE(passwd->body.find("root:x:0:0:root:/root:/bin/sh"), std::string::npos) << passwd->body;
    EXPECT_EQ(passwd->body.find("daemon:"), std::string::npos) << "read the host's /etc/passwd";
    std::string marker = "lxmt-escape-" + std::to_string(::getpid());
    auto w = c_->raw("POST", base + "/tmp/up/tmp/" + marker, "x", {});
    ASSERT_TRUE(w);
    EXPECT_FALSE(base::path_exists("/tmp/" + marker)) << "wrote on the host";
    ::unlink(("/tmp/" + marker).c_str());
    // A symlink as the last component is not written through.
    ASSERT_EQ(exec_code(*c_, n, {"ln", "-s", "/etc/hostname", "/tmp/link"}), 0);
    EXPECT_EQ(raw_status(c_->raw("POST", base + "/tmp/link", "changed", {})), 400);
    EXPECT_EQ(change_state(*c_, n, "stop", true), "");

    // Stopped: the same view through a private mount of the root volume.
    auto stopped = c_->raw("GET", base + "/root/hello.txt", "", {});
    ASSERT_TRUE(stopped) << stopped.error().message();
    EXPECT_EQ(stopped->body, "hi there\n");
}

}  // namespace
}  // namespace lxm::test
