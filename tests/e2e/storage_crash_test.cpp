// kill -9 of lxmd in the middle of a snapshot, a restore and a copy of an
// instance large enough (20000 files + 64 MiB in its own layer) that the kill
// lands while the pool builds under tmp/: the test waits until the build's
// temp dir exists, then kills. After a restart: no half-made snapshot or
// instance (API, pool dirs, pool tmp/), the source's files unchanged, the
// instance starts, and SQLite's integrity_check says ok.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lxm/base/file.hpp"
#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

namespace fs = std::filesystem;

std::string sh_out(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    return out;
}

class StorageCrash : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        if (::access("/usr/bin/sqlite3", X_OK) != 0) GTEST_SKIP() << "sqlite3 CLI missing (package sqlite3)";
        ASSERT_TRUE(d_.start({"--default-network", ""}, &why)) << why;
        connect();
        name_ = Lxmd::name("big");
        ASSERT_EQ(launch(*c_, name_, false), "");
        // The instance's own layer: many small files and one large one.
        std::string data = upper() + "/data";
        fs::create_directories(data);
        std::string block(4096, 'x');
        for (int d = 0; d < 20; ++d) {
            std::string dir = data + "/d" + std::to_string(d);
            fs::create_directories(dir);
            for (int f = 0; f < 1000; ++f) std::ofstream(dir + "/f" + std::to_string(f)) << block << d << f;
        }
        std::ofstream big(data + "/big", std::ios::binary);
        std::string mib(1 << 20, 'y');
        for (int i = 0; i < 64; ++i) big << mib;
        big.close();
        ASSERT_TRUE(base::write_file(upper() + "/root-marker", "current\n", true));
        fingerprint_ = fingerprint();
    }
    void TearDown() override {
        if (c_) {
            for (const auto& n : {name_, name_ + "-copy"}) {
                (void)change_state(*c_, n, "stop", true);
                auto r = c_->del("/1.0/instances/" + n);
                if (r && !r->operation.empty()) (void)c_->wait_operation(r->operation, 120);
            }
        }
    }

    void connect() {
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
    }
    std::string pool() const { return d_.state() + "/storage-pools/default"; }
    std::string upper() const { return pool() + "/containers/" + name_ + "/upper"; }
    // Count and total size of the instance's data, and one file's content.
    std::string fingerprint() const {
        return sh_out("cd " + upper() + " && find data -type f | wc -l && du -sb data | cut -f1 && cat root-marker");
    }
    size_t tmp_entries() const {
        size_t n = 0;
        for (auto& e : fs::directory_iterator(pool() + "/tmp")) (void)e, ++n;
        return n;
    }
    // Send the request, wait until the pool's build dir appears under tmp/, kill -9 lxmd, restart it.
    void kill_during(const std::string& method, const std::string& path, const json& body) {
        ASSERT_EQ(tmp_entries(), 0u);
        auto r = method == "POST" ? c_->post(path, body) : c_->put(path, body);
        ASSERT_TRUE(r) << r.error().message();
        bool seen = false;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < deadline) {
            if (tmp_entries() > 0) {
                seen = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        ASSERT_TRUE(seen) << "the pool never started a build under tmp/";
        d_.stop(SIGKILL);
        // The kill landed mid-build: the temp dir is still there (the rename is the last step).
        ASSERT_GT(tmp_entries(), 0u) << "the operation finished before the kill";
        c_.reset();
        std::string why;
        ASSERT_TRUE(d_.start({"--default-network", ""}, &why)) << why;
        connect();
    }
    void expect_consistent() {
        EXPECT_EQ(tmp_entries(), 0u) << "pool tmp/ not emptied at restart";
        EXPECT_EQ(fingerprint(), fingerprint_) << "the source changed";
        EXPECT_EQ(sh_out("sqlite3 " + d_.state() + "/database/lxm.db 'PRAGMA integrity_check'"), "ok\n");
        EXPECT_EQ(sh_out("sqlite3 " + d_.state() + "/database/lxm.db 'PRAGMA foreign_key_check'"), "");
        // It still starts and runs.
        ASSERT_EQ(change_state(*c_, name_, "start"), "") << d_.log();
        EXPECT_EQ(exec_code(*c_, name_, {"sh", "-c", "test \"$(cat /root-marker)\" = current"}), 0);
        EXPECT_EQ(change_state(*c_, name_, "stop", true), "");
    }
    std::vector<std::string> snapshot_names() {
        std::vector<std::string> out;
        auto r = c_->get("/1.0/instances/" + name_ + "/snapshots?recursion=1");
        if (r)
            for (const auto& s : *r) out.push_back(s["name"].get<std::string>());
        return out;
    }

    Lxmd d_;
    std::optional<client::Client> c_;
    std::string name_, fingerprint_;
};

TEST_F(StorageCrash, KillDuringSnapshot) {
    kill_during("POST", "/1.0/instances/" + name_ + "/snapshots", json{{"name", "half"}});
    if (HasFatalFailure()) return;
    EXPECT_TRUE(snapshot_names().empty());
    EXPECT_FALSE(base::path_exists(pool() + "/containers/" + name_ + "/snapshots/half"));
    auto s = c_->get("/1.0/instances/" + name_ + "/snapshots/half");
    EXPECT_FALSE(s);
    expect_consistent();
    // The name is free again.
    auto r = c_->post("/1.0/instances/" + name_ + "/snapshots", json{{"name", "half"}});
    ASSERT_TRUE(r);
    EXPECT_TRUE(c_->wait_success(r->operation));
}

TEST_F(StorageCrash, KillDuringRestore) {
    auto r = c_->post("/1.0/instances/" + name_ + "/snapshots", json{{"name", "s1"}});
    ASSERT_TRUE(r);
    ASSERT_TRUE(c_->wait_success(r->operation));
    // After the snapshot the instance changes: a restore would bring "snapshot" back.
    ASSERT_TRUE(base::write_file(upper() + "/root-marker", "current\n"));
    ASSERT_TRUE(base::write_file(pool() + "/containers/" + name_ + "/snapshots/s1/upper/root-marker", "snapshot\n"));
    fingerprint_ = fingerprint();
    kill_during("PUT", "/1.0/instances/" + name_, json{{"restore", "s1"}});
    if (HasFatalFailure()) return;
    EXPECT_EQ(snapshot_names(), std::vector<std::string>{"s1"});
    expect_consistent();  // the instance as it was before the restore, whole
    // A restore after the restart works.
    auto again = c_->put("/1.0/instances/" + name_, json{{"restore", "s1"}});
    ASSERT_TRUE(again);
    ASSERT_TRUE(c_->wait_success(again->operation));
    EXPECT_EQ(*base::read_file(upper() + "/root-marker"), "snapshot\n");
}

TEST_F(StorageCrash, KillDuringCopy) {
    std::string target = name_ + "-copy";
    kill_during("POST", "/1.0/instances", json{{"name", target}, {"source", {{"type", "copy"}, {"source", name_}}}});
    if (HasFatalFailure()) return;
    auto t = c_->get("/1.0/instances/" + target);
    ASSERT_FALSE(t);
    EXPECT_EQ(apitypes::http_status_of(t.error()), 404);
    EXPECT_FALSE(base::path_exists(pool() + "/containers/" + target));
    auto names = c_->get("/1.0/instances");
    ASSERT_TRUE(names);
    EXPECT_EQ(names->size(), 1u) << names->dump();
    expect_consistent();
}

}  // namespace
}  // namespace lxm::test
