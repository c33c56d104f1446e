// The acceptance case of issue 4: snapshot a running Debian 12 container
// (systemd as PID 1), change files (a new file, a changed one, one of the image
// deleted), restore: the files are back and systemd reaches "running" again —
// on the default overlay pool and on a btrfs pool (a loop file the test makes).
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

int sh(const std::string& cmd) {
    int st = std::system((cmd + " >/dev/null 2>&1").c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

class DebianSnapshot : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("debian-12", &why).empty()) GTEST_SKIP() << "debian-12 rootfs unavailable: " << why;
        ASSERT_TRUE(d_.start({"--default-network", ""}, &why)) << why;
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
        if (GetParam() == "btrfs") {
            if (sh("command -v mkfs.btrfs") != 0) GTEST_SKIP() << "mkfs.btrfs missing";
            std::string img = tmp_ / "btrfs.img";
            mnt_ = tmp_ / "btrfs";
            std::filesystem::create_directories(mnt_);
            ASSERT_EQ(sh("truncate -s 3G " + img + " && mkfs.btrfs -q " + img), 0);
            if (sh("mount -o loop " + img + " " + mnt_) != 0) {
                mnt_.clear();
                GTEST_SKIP() << "cannot loop-mount btrfs";
            }
            auto r = c_->post("/1.0/storage-pools",
                              json{{"name", "bt"}, {"driver", "btrfs"}, {"config", {{"source", mnt_}}}});
            ASSERT_TRUE(r) << r.error().message();
        }
    }
    void TearDown() override {
        if (c_ && !name_.empty()) {
            (void)change_state(*c_, name_, "stop", true);
            auto r = c_->del("/1.0/instances/" + name_);
            if (r && !r->operation.empty()) (void)c_->wait_operation(r->operation, 120);
        }
        if (c_ && !mnt_.empty()) (void)c_->del("/1.0/storage-pools/bt");
        d_.stop(SIGTERM);
        if (!mnt_.empty() && ::umount2(mnt_.c_str(), 0) != 0) ::umount2(mnt_.c_str(), MNT_DETACH);
    }
    std::string async(base::Result<client::Response> r) {
        if (!r) return apitypes::user_message(r.error());
        auto op = c_->wait_success(r->operation);
        if (!op) return apitypes::user_message(op.error());
        return {};
    }
    // systemctl is-system-running --wait exits 0 only for "running".
    int system_running() {
        return exec_code(*c_, name_,
                         {"sh", "-c",
                          "for i in $(seq 300); do [ -S /run/systemd/private ] && break; sleep 0.1; done; "
                          "timeout 120 systemctl is-system-running --wait"});
    }

    Lxmd d_;
    std::optional<client::Client> c_;
    TempDir tmp_{"debsnap"};
    std::string mnt_, name_;
};

TEST_P(DebianSnapshot, RunningSnapshotChangeRestore) {
    name_ = Lxmd::name("deb");
    json body{{"name", name_}, {"source", {{"type", "image"}, {"alias", "debian/12"}}}};
    if (GetParam() == "btrfs") body["devices"] = {{"root", {{"type", "disk"}, {"path", "/"}, {"pool", "bt"}}}};
    ASSERT_EQ(async(c_->post("/1.0/instances", body)), "") << d_.log();
    ASSERT_EQ(change_state(*c_, name_, "start"), "");
    ASSERT_EQ(system_running(), 0) << "systemd did not reach running before the snapshot";
    ASSERT_EQ(exec_code(*c_, name_, {"sh", "-c", "echo one > /root/f && echo kept > /etc/lxm-test"}), 0);

    ASSERT_EQ(async(c_->post("/1.0/instances/" + name_ + "/snapshots", json{{"name", "s1"}})), "");
    auto st = c_->get("/1.0/instances/" + name_);
    ASSERT_TRUE(st);
    EXPECT_EQ((*st)["status"], "Running");  // thawed after the snapshot

    ASSERT_EQ(exec_code(*c_, name_,
                        {"sh", "-c", "echo two > /root/f && rm /etc/lxm-test /etc/os-release && touch /root/new"}),
              0);
    ASSERT_EQ(async(c_->put("/1.0/instances/" + name_, json{{"restore", "s1"}})), "") << d_.log();
    st = c_->get("/1.0/instances/" + name_);
    ASSERT_TRUE(st);
    EXPECT_EQ((*st)["status"], "Running");
    EXPECT_EQ(exec_code(*c_, name_,
                        {"sh", "-c",
                         "test \"$(cat /root/f)\" = one && test \"$(cat /etc/lxm-test)\" = kept && "
                         "test -s /etc/os-release && test ! -e /root/new"}),
              0);
    EXPECT_EQ(system_running(), 0) << "systemd did not reach running after the restore";
}

INSTANTIATE_TEST_SUITE_P(Pools, DebianSnapshot, ::testing::Values("overlay", "btrfs"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace lxm::test
