// Snapshots and copies end to end: a real lxmd on a temp state dir, busybox
// containers through the API (snapshot a running container, change a file,
// restore, the file is back and the container runs again; rename, delete;
// copy from an instance and from a snapshot boots), and the same through the
// unmodified `lxc` client when it is installed.
#include <gtest/gtest.h>

#include <cstdio>
#include <sys/wait.h>

#include "lxm/base/file.hpp"
#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

class Snapshots : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        ASSERT_TRUE(d_.start({"--default-network", ""}, &why)) << why;  // no host bridge
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
    }

    // Run an async request to completion; "" or the error text.
    std::string async(const std::string& method, const std::string& path, const json& body = json::object()) {
        base::Result<client::Response> r =
            method == "POST"   ? c_->post(path, body)
            : method == "PUT"  ? c_->put(path, body)
                               : c_->del(path);
        if (!r) return apitypes::user_message(r.error());
        auto op = c_->wait_success(r->operation);
        if (!op) return apitypes::user_message(op.error());
        return {};
    }
    int status_of(const std::string& method, const std::string& path, const json& body = json::object()) {
        auto r = method == "POST" ? c_->post(path, body) : method == "PUT" ? c_->put(path, body) : c_->del(path);
        if (r) return 200;
        return apitypes::http_status_of(r.error());
    }
    std::string status(const std::string& n) {
        auto r = c_->get("/1.0/instances/" + n);
        return r ? (*r)["status"].get<std::string>() : "?";
    }
    std::vector<std::string> snapshot_names(const std::string& n) {
        std::vector<std::string> out;
        auto r = c_->get("/1.0/instances/" + n + "/snapshots?recursion=1");
        if (r)
            for (const auto& s : *r) out.push_back(s["name"].get<std::string>());
        return out;
    }
    std::string pool_dir(const std::string& name) { return d_.state() + "/storage-pools/default/containers/" + name; }

    Lxmd d_;
    std::optional<client::Client> c_;
};

TEST_F(Snapshots, SnapshotRunningChangeRestoreRenameDelete) {
    std::string n = Lxmd::name("snap");
    ASSERT_EQ(launch(*c_, n, true), "");
    ASSERT_EQ(exec_code(*c_, n, {"sh", "-c", "echo before > /root/f"}), 0);

    // Taken while running (frozen around it; running again afterwards); name defaults to snap0.
    ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/snapshots", json::object()), "");
    EXPECT_EQ(status(n), "Running");
    EXPECT_EQ(snapshot_names(n), std::vector<std::string>{"snap0"});
    auto list = c_->get("/1.0/instances/" + n + "/snapshots");
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0], "/1.0/instances/" + n + "/snapshots/snap0");
    auto one = c_->get("/1.0/instances/" + n + "/snapshots/snap0");
    ASSERT_TRUE(one);
    EXPECT_EQ((*one)["name"], "snap0");
    EXPECT_FALSE((*one)["config"].contains("volatile.lxm.creating"));
    EXPECT_EQ(exec_code(*c_, n, {"true"}), 0);  // thawed

    // Named, with expiry; a taken name is 409, a bad one 400, before any operation.
    ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/snapshots",
                    json{{"name", "named"}, {"stateful", false}, {"expires_at", "2099-01-01T00:00:00Z"}}),
              "");
    EXPECT_EQ(status_of("POST", "/1.0/instances/" + n + "/snapshots", json{{"name", "named"}}), 409);
    EXPECT_EQ(status_of("POST", "/1.0/instances/" + n + "/snapshots", json{{"name", "a/b"}}), 400);
    EXPECT_EQ(status_of("POST", "/1.0/instances/no-such/snapshots", json::object()), 404);
    auto named = c_->get("/1.0/instances/" + n + "/snapshots/named");
    ASSERT_TRUE(named);
    EXPECT_EQ((*named)["expires_at"].get<std::string>().substr(0, 4), "2099");
    ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/snapshots", json::object()), "");
    EXPECT_EQ(snapshot_names(n), (std::vector<std::string>{"snap0", "named", "snap1"}));

    // The instance's backup file lists them.
    auto backup = base::read_file(pool_dir(n) + "/backup.json", 1 << 20);
    ASSERT_TRUE(backup) << backup.error().message();
    EXPECT_NE(backup->find("\"snap1\""), std::string::npos);

    // Change, then restore while running: stopped, restored, started again.
    ASSERT_EQ(exec_code(*c_, n, {"sh", "-c", "echo after > /root/f && touch /root/new"}), 0);
    ASSERT_EQ(async("PUT", "/1.0/instances/" + n, json{{"restore", "snap0"}}), "");
    EXPECT_EQ(status(n), "Running");
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(cat /root/f)\" = before"}), 0);
    EXPECT_EQ(exec_code(*c_, n, {"test", "-e", "/root/new"}), 1);

    // "inst/snap" form, on a stopped instance: stays stopped.
    ASSERT_EQ(exec_code(*c_, n, {"sh", "-c", "echo again > /root/f"}), 0);
    ASSERT_EQ(change_state(*c_, n, "stop", true), "");
    ASSERT_EQ(async("PUT", "/1.0/instances/" + n, json{{"restore", n + "/snap0"}}), "");
    EXPECT_EQ(status(n), "Stopped");
    ASSERT_EQ(change_state(*c_, n, "start"), "");
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(cat /root/f)\" = before"}), 0);
    EXPECT_NE(async("PUT", "/1.0/instances/" + n, json{{"restore", "nope"}}), "");
    EXPECT_EQ(status(n), "Running");

    // Rename, delete.
    ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/snapshots/named", json{{"name", "renamed"}}), "");
    EXPECT_EQ(snapshot_names(n), (std::vector<std::string>{"snap0", "renamed", "snap1"}));
    EXPECT_EQ(status_of("POST", "/1.0/instances/" + n + "/snapshots/renamed", json{{"name", "snap0"}}), 409);
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + n + "/snapshots/snap1"), "");
    EXPECT_EQ(snapshot_names(n), (std::vector<std::string>{"snap0", "renamed"}));
    EXPECT_EQ(status_of("DELETE", "/1.0/instances/" + n + "/snapshots/snap1"), 404);
    auto gone = c_->get("/1.0/instances/" + n + "/snapshots/snap1");
    EXPECT_FALSE(gone);

    // Deleting the instance deletes its snapshots (rows and trees).
    ASSERT_EQ(change_state(*c_, n, "stop", true), "");
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + n), "");
    EXPECT_FALSE(base::path_exists(pool_dir(n)));
    ASSERT_EQ(launch(*c_, n, false), "");
    EXPECT_TRUE(snapshot_names(n).empty());
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + n), "");
}

TEST_F(Snapshots, CopyFromInstanceAndSnapshotBoots) {
    std::string a = Lxmd::name("src");
    std::string b = Lxmd::name("cp1");
    std::string s = Lxmd::name("cp2");
    ASSERT_EQ(launch(*c_, a, true, json{{"user.tag", "x"}}), "");
    ASSERT_EQ(exec_code(*c_, a, {"sh", "-c", "echo one > /root/f"}), 0);
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{{"name", "s1"}}), "");
    ASSERT_EQ(exec_code(*c_, a, {"sh", "-c", "echo two > /root/f"}), 0);

    // From the running instance.
    ASSERT_EQ(async("POST", "/1.0/instances", json{{"name", b}, {"source", {{"type", "copy"}, {"source", a}}}}), "");
    EXPECT_EQ(status(a), "Running");
    auto bi = c_->get("/1.0/instances/" + b);
    ASSERT_TRUE(bi);
    EXPECT_EQ((*bi)["config"]["user.tag"], "x");
    EXPECT_EQ((*bi)["status"], "Stopped");
    EXPECT_EQ(snapshot_names(b), std::vector<std::string>{"s1"});  // as LXD: snapshots come along
    ASSERT_EQ(change_state(*c_, b, "start"), "");
    EXPECT_EQ(exec_code(*c_, b, {"sh", "-c", "test \"$(cat /root/f)\" = two"}), 0);
    // Its own files, owned by its own id range.
    EXPECT_EQ(exec_code(*c_, b, {"sh", "-c", "test \"$(stat -c %u /root/f)\" = 0"}), 0);
    ASSERT_EQ(exec_code(*c_, b, {"sh", "-c", "echo mine > /root/f"}), 0);
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "test \"$(cat /root/f)\" = two"}), 0);

    // From a snapshot, with a config override.
    ASSERT_EQ(async("POST", "/1.0/instances", json{{"name", s},
                                                    {"config", {{"user.tag", "y"}}},
                                                    {"source", {{"type", "copy"}, {"source", a + "/s1"}}}}),
              "");
    auto si = c_->get("/1.0/instances/" + s);
    ASSERT_TRUE(si);
    EXPECT_EQ((*si)["config"]["user.tag"], "y");
    ASSERT_EQ(change_state(*c_, s, "start"), "");
    EXPECT_EQ(exec_code(*c_, s, {"sh", "-c", "test \"$(cat /root/f)\" = one"}), 0);

    // Bad copies: 404 source, 404 snapshot, 409 target; nothing made.
    EXPECT_EQ(status_of("POST", "/1.0/instances",
                        json{{"name", "c-x"}, {"source", {{"type", "copy"}, {"source", "no-such"}}}}),
              404);
    EXPECT_EQ(status_of("POST", "/1.0/instances",
                        json{{"name", "c-x"}, {"source", {{"type", "copy"}, {"source", a + "/nope"}}}}),
              404);
    EXPECT_EQ(status_of("POST", "/1.0/instances", json{{"name", b}, {"source", {{"type", "copy"}, {"source", a}}}}),
              409);
    EXPECT_FALSE(base::path_exists(pool_dir("c-x")));

    for (const auto& n : {a, b, s}) {
        EXPECT_EQ(change_state(*c_, n, "stop", true), "");
        EXPECT_EQ(async("DELETE", "/1.0/instances/" + n), "");
    }
}

TEST_F(Snapshots, LxcClientSnapshotRestoreCopy) {
    if (sh("command -v lxc").code != 0) GTEST_SKIP() << "lxc (package lxd-client) is not installed";
    TempDir home("home");
    std::string env = "HOME=" + home.path() + " LXD_CONF=" + home.path() + "/lxc LXD_SOCKET=" + d_.socket() +
                      " LXD_DIR=" + d_.state() + " ";
    auto lxc = [&](const std::string& args) { return sh(env + "timeout 120 lxc " + args); };
    std::string n = Lxmd::name("lxcsnap");
    std::string m = Lxmd::name("lxccopy");
    CmdResult r = lxc("launch busybox " + n);
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("exec " + n + " -- sh -c 'echo before > /root/f'");
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("snapshot " + n + " s0");
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("exec " + n + " -- sh -c 'echo after > /root/f'");
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("info " + n);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("s0"), std::string::npos) << r.out;
    r = lxc("restore " + n + " s0");
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("exec " + n + " -- cat /root/f");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(r.out, "before\n");
    r = lxc("copy " + n + "/s0 " + m);
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("start " + m);
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("exec " + m + " -- cat /root/f");
    EXPECT_EQ(r.out, "before\n");
    r = lxc("delete " + n + "/s0");
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("delete --force " + n + " " + m);
    ASSERT_EQ(r.code, 0) << r.out;
}

}  // namespace
}  // namespace lxm::test
