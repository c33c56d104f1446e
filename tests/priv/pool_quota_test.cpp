// Root disk quotas of the pool drivers on the real kernel: btrfs qgroup limits
// (a btrfs loop file the test makes: writing past the limit fails with EDQUOT,
// lifting it lets the write through, a restore keeps no stale limit), project
// quotas of an ext4 loop file mounted with prjquota under the overlay and dir
// drivers (a writer without CAP_SYS_RESOURCE gets EDQUOT), the clear
// "not supported by this pool" on a filesystem without project quotas, and
// copy_snapshot (copies with snapshots) on each driver.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "store/pool_driver.hpp"
#include "tests/support/container_fixture.hpp"

using namespace lxm;
using lxm::test::TempDir;

namespace {

constexpr const char* kFp = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

base::Result<base::SpawnResult> run(std::vector<std::string> argv) {
    base::SpawnOptions o;
    o.argv = std::move(argv);
    o.timeout = std::chrono::seconds(120);
    return base::spawn_capture(o);
}

bool have(const std::string& prog) {
    auto r = run({"sh", "-c", "command -v " + prog});
    return r && r->success();
}

// Write `mib` MiB into path as a process without CAP_SYS_RESOURCE (root would bypass
// ext4 quota limits); returns dd's output, with "EDQUOT" when the quota stopped it.
std::string write_mib(const std::string& path, int mib) {
    auto r = run({"setpriv", "--bounding-set", "-sys_resource", "--inh-caps", "-sys_resource", "dd", "if=/dev/zero",
                  "of=" + path, "bs=1M", "count=" + std::to_string(mib), "conv=fsync"});
    if (!r) return "spawn failed: " + r.error().message();
    std::string all = r->out + r->err;
    if (all.find("Disk quota exceeded") != std::string::npos) return "EDQUOT";
    return r->success() ? "ok" : "failed: " + all;
}

class PoolQuota : public ::testing::TestWithParam<std::string> {
protected:
    // driver: overlay | dir | btrfs; fs: btrfs | ext4-prjquota | plain
    void open(const std::string& driver, const std::string& fs) {
        pool_path_ = tmp_ / "pool";
        ASSERT_TRUE(base::mkdir_p(pool_path_));
        if (fs != "plain") {
            std::string img = tmp_ / "fs.img";
            ASSERT_TRUE(run({"truncate", "-s", "512M", img}));
            std::vector<std::string> mkfs = fs == "btrfs"
                                                ? std::vector<std::string>{"mkfs.btrfs", "-q", img}
                                                : std::vector<std::string>{"mkfs.ext4", "-q", "-O", "quota,project", img};
            auto m = run(mkfs);
            if (!m || !m->success()) GTEST_SKIP() << "mkfs for " << fs << " failed: " << (m ? m->err : m.error().message());
            auto mnt = run({"mount", "-o", fs == "btrfs" ? "loop" : "loop,prjquota", img, pool_path_});
            // ext4 with the quota feature needs a kernel with CONFIG_QUOTA (this one may lack it).
            if (!mnt || !mnt->success()) GTEST_SKIP() << "cannot loop-mount " << fs << " (kernel without quota support?): " << (mnt ? mnt->err : "");
            mounted_ = true;
        }
        auto p = store::open_pool(driver, pool_path_);
        ASSERT_TRUE(p) << p.error().message();
        pool_ = std::move(*p);
        auto e = pool_->ensure_image(kFp, [this](const std::string& dir) -> base::Result<void> {
            auto r = run({"cp", "-a", rootfs_ + "/.", dir + "/"});
            if (!r || !r->success()) return base::make_error(std::errc::io_error, "cp failed");
            return {};
        });
        ASSERT_TRUE(e) << e.error().message();
    }

    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (priv test)";
        std::string why;
        rootfs_ = test::cached_rootfs("busybox", &why);
        if (rootfs_.empty()) GTEST_SKIP() << why;
        if (!have("setpriv")) GTEST_SKIP() << "setpriv (util-linux) missing";
    }

    void TearDown() override {
        pool_.reset();
        if (mounted_ && ::umount2(pool_path_.c_str(), 0) != 0) {
            ADD_FAILURE() << "umount " << pool_path_ << ": " << strerror(errno);
            ::umount2(pool_path_.c_str(), MNT_DETACH);
        }
    }

    // The instance's writable tree (what the container writes to).
    std::string writable(const std::string& name) {
        auto r = pool_->instance_rootfs(name);
        EXPECT_TRUE(r);
        if (!r) return "/nonexistent";
        return r->upper_dir.empty() ? r->rootfs : r->upper_dir;
    }

    TempDir tmp_{"quota"};
    std::string rootfs_, pool_path_;
    bool mounted_ = false;
    std::unique_ptr<store::PoolDriver> pool_;
};

}  // namespace

TEST_P(PoolQuota, LimitStopsWritesAndCanBeLifted) {
    const std::string driver = GetParam();
    open(driver, driver == "btrfs" ? "btrfs" : "ext4-prjquota");
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_TRUE(pool_->check_quota()) << pool_->check_quota().error().message();
    ASSERT_TRUE(pool_->create_instance("q1", kFp, 1000000, 1000000));
    ASSERT_TRUE(pool_->create_instance("free", kFp, 1065536, 1065536));

    auto q = pool_->set_instance_quota("q1", 24u << 20);
    ASSERT_TRUE(q) << q.error().message();
    EXPECT_EQ(write_mib(writable("q1") + "/big", 64), "EDQUOT");
    ::unlink((writable("q1") + "/big").c_str());
    // Another instance of the same pool is not limited by it.
    EXPECT_EQ(write_mib(writable("free") + "/big", 64), "ok");
    // Lifted: the same write goes through.
    ASSERT_TRUE(pool_->set_instance_quota("q1", std::nullopt));
    if (driver == "btrfs") ::sync();
    EXPECT_EQ(write_mib(writable("q1") + "/big", 64), "ok");
    ::unlink((writable("q1") + "/big").c_str());

    // A restored instance gets a new tree: the caller sets the limit again, and it holds.
    ASSERT_TRUE(pool_->create_snapshot("q1", "s1"));
    ASSERT_TRUE(pool_->restore_snapshot("q1", "s1"));
    ASSERT_TRUE(pool_->set_instance_quota("q1", 24u << 20));
    EXPECT_EQ(write_mib(writable("q1") + "/big2", 64), "EDQUOT");
    ASSERT_TRUE(pool_->delete_instance("q1"));
    ASSERT_TRUE(pool_->delete_instance("free"));
}

TEST_P(PoolQuota, NotSupportedWithoutProjectQuotas) {
    if (GetParam() == "btrfs") GTEST_SKIP() << "btrfs always has qgroups";
    open(GetParam(), "plain");  // the test's temp dir: a filesystem without prjquota here
    if (HasFatalFailure() || IsSkipped()) return;
    auto c = pool_->check_quota();
    if (c) GTEST_SKIP() << "the temp dir's filesystem has project quotas enabled";
    EXPECT_EQ(c.error().code, std::errc::not_supported);
    EXPECT_NE(c.error().message().find("not supported by this pool"), std::string::npos) << c.error().message();
    ASSERT_TRUE(pool_->create_instance("q1", kFp, 1000000, 1000000));
    EXPECT_FALSE(pool_->set_instance_quota("q1", 24u << 20));
}

TEST_P(PoolQuota, CopySnapshotIntoAnotherInstance) {
    const std::string driver = GetParam();
    open(driver, driver == "btrfs" ? "btrfs" : "plain");
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_TRUE(pool_->create_instance("a", kFp, 1000000, 1000000));
    std::string f = writable("a") + "/marker";
    ASSERT_TRUE(base::write_file(f, "one\n", true));
    ASSERT_EQ(::chown(f.c_str(), 1000000 + 7, 1000000 + 7), 0);
    ASSERT_TRUE(pool_->create_snapshot("a", "s1"));
    ASSERT_TRUE(pool_->copy_instance("a", std::nullopt, "b", 1065536, 1065536));
    auto r = pool_->copy_snapshot("a", "s1", "b", "s1", 1065536, 1065536);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(pool_->list_snapshots("b"), std::vector<std::string>{"s1"});
    EXPECT_FALSE(pool_->copy_snapshot("a", "s1", "b", "s1", 1065536, 1065536));  // exists
    EXPECT_FALSE(pool_->copy_snapshot("a", "nope", "b", "s2", 1065536, 1065536));
    auto sr = pool_->snapshot_rootfs("b", "s1");
    ASSERT_TRUE(sr);
    std::string copied = (sr->upper_dir.empty() ? sr->rootfs : sr->upper_dir) + "/marker";
    EXPECT_EQ(*base::read_file(copied), "one\n");
    struct stat st {};
    ASSERT_EQ(::stat(copied.c_str(), &st), 0);
    // overlay shifts owners to the new instance's range; tree pools stay unshifted (idmapped at start).
    EXPECT_EQ(st.st_uid, driver == "overlay" ? 1065536u + 7 : 1000000u + 7);
    // Restoring the copied snapshot in the copy works.
    ASSERT_TRUE(pool_->restore_snapshot("b", "s1"));
    std::filesystem::path tmp = pool_path_ + "/tmp";
    EXPECT_TRUE(std::filesystem::is_empty(tmp));
    ASSERT_TRUE(pool_->delete_instance("a"));
    ASSERT_TRUE(pool_->delete_instance("b"));
}

INSTANTIATE_TEST_SUITE_P(Drivers, PoolQuota, ::testing::Values("overlay", "dir", "btrfs"),
                         [](const auto& info) { return info.param; });
