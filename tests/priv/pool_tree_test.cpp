// The dir and btrfs pool drivers on the real kernel with the busybox image:
// create, snapshot (read-only subvolume on btrfs), restore, copy, rename,
// delete, leftovers, and a busybox container booting on an instance. The btrfs
// pool lives on a loop-mounted btrfs file the test makes and unmounts.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "store/pool_driver.hpp"
#include "tests/support/container_fixture.hpp"

using namespace lxm;
using lxm::test::TempDir;

namespace {

constexpr const char* kFp = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

std::string slurp(const std::string& path) {
    auto r = base::read_file(path);
    return r ? *r : "<missing>";
}

size_t tmp_entries(const std::string& pool) {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(pool + "/tmp")) (void)e, ++n;
    return n;
}

bool have_program(const std::string& name) {
    base::SpawnOptions o;
    o.argv = {"sh", "-c", "command -v " + name};
    auto r = base::spawn_capture(o);
    return r && r->success();
}

base::Result<void> run(std::vector<std::string> argv) {
    base::SpawnOptions o;
    o.argv = std::move(argv);
    o.timeout = std::chrono::seconds(60);
    LXM_TRY_VOID(base::spawn_checked(o));
    return {};
}

class PoolTree : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (priv test)";
        std::string why;
        rootfs_ = test::cached_rootfs("busybox", &why);
        if (rootfs_.empty()) GTEST_SKIP() << why;
        pool_path_ = tmp_ / "pool";
        if (GetParam() == "btrfs") {
            if (!have_program("mkfs.btrfs")) GTEST_SKIP() << "mkfs.btrfs missing (btrfs-progs)";
            std::string img = tmp_ / "btrfs.img";
            ASSERT_TRUE(run({"truncate", "-s", "512M", img}));
            ASSERT_TRUE(run({"mkfs.btrfs", "-q", img}));
            ASSERT_TRUE(base::mkdir_p(pool_path_));
            // mount -o loop sets autoclear: the loop device goes with the unmount.
            auto m = run({"mount", "-o", "loop", img, pool_path_});
            if (!m) GTEST_SKIP() << "cannot loop-mount btrfs: " << m.error().message();
            mounted_ = true;
        }
        auto p = store::open_pool(GetParam(), pool_path_);
        ASSERT_TRUE(p) << p.error().message();
        pool_ = std::move(*p);
        auto e = pool_->ensure_image(kFp, [this](const std::string& dir) -> base::Result<void> {
            return run({"cp", "-a", rootfs_ + "/.", dir + "/"});
        });
        ASSERT_TRUE(e) << e.error().message();
    }

    void TearDown() override {
        pool_.reset();
        if (mounted_ && ::umount2(pool_path_.c_str(), 0) != 0) {
            ADD_FAILURE() << "umount " << pool_path_ << ": " << strerror(errno);
            ::umount2(pool_path_.c_str(), MNT_DETACH);
        }
    }

    bool is_subvolume(const std::string& p) {
        struct stat st;
        return ::stat(p.c_str(), &st) == 0 && st.st_ino == 256;
    }

    TempDir tmp_{"tree"};
    std::string rootfs_, pool_path_;
    bool mounted_ = false;
    std::unique_ptr<store::PoolDriver> pool_;
};

}  // namespace

TEST_P(PoolTree, LifecycleSnapshotRestoreCopy) {
    EXPECT_EQ(pool_->driver_name(), GetParam());
    auto r = pool_->create_instance("c1", kFp, 1000000, 1000000);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->rootfs, pool_path_ + "/containers/c1/rootfs");
    EXPECT_TRUE(r->upper_dir.empty());
    EXPECT_TRUE(base::path_exists(r->rootfs + "/bin/busybox"));
    struct stat st;
    ASSERT_EQ(::stat(r->rootfs.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);  // unshifted: the runtime idmaps the tree
    if (GetParam() == "btrfs") {
        EXPECT_TRUE(is_subvolume(pool_path_ + "/images/" + kFp + "/rootfs"));
        EXPECT_TRUE(is_subvolume(r->rootfs));
    }
    // The image is untouched by changes in the instance.
    ASSERT_TRUE(base::write_file(r->rootfs + "/etc/hello", "v1", true));
    EXPECT_FALSE(base::path_exists(pool_path_ + "/images/" + kFp + "/rootfs/etc/hello"));

    ASSERT_TRUE(pool_->create_snapshot("c1", "s1"));
    EXPECT_EQ(pool_->list_snapshots("c1"), std::vector<std::string>{"s1"});
    auto sr = pool_->snapshot_rootfs("c1", "s1");
    ASSERT_TRUE(sr);
    if (GetParam() == "btrfs") {
        EXPECT_TRUE(is_subvolume(sr->rootfs));
        EXPECT_FALSE(base::write_file(sr->rootfs + "/etc/x", "x", true));  // read-only snapshot
    }
    ASSERT_TRUE(base::write_file(r->rootfs + "/etc/hello", "v2", false));
    ASSERT_EQ(::unlink((r->rootfs + "/bin/cat").c_str()), 0);
    ASSERT_TRUE(pool_->restore_snapshot("c1", "s1"));
    EXPECT_EQ(slurp(r->rootfs + "/etc/hello"), "v1");
    EXPECT_TRUE(base::path_exists(r->rootfs + "/bin/cat"));
    EXPECT_EQ(slurp(sr->rootfs + "/etc/hello"), "v1");

    ASSERT_TRUE(base::write_file(r->rootfs + "/etc/hello", "v3", false));
    auto c = pool_->copy_instance("c1", std::nullopt, "c2", 1065536, 1065536);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(slurp(c->rootfs + "/etc/hello"), "v3");
    auto c3 = pool_->copy_instance("c1", std::string("s1"), "c3", 1131072, 1131072);
    ASSERT_TRUE(c3) << c3.error().message();
    EXPECT_EQ(slurp(c3->rootfs + "/etc/hello"), "v1");
    ASSERT_TRUE(base::write_file(c3->rootfs + "/etc/hello", "writable", false));  // a copy of a ro snapshot is writable
    EXPECT_EQ(slurp(sr->rootfs + "/etc/hello"), "v1");
    EXPECT_FALSE(pool_->copy_instance("c1", std::nullopt, "c2", 1, 1));

    ASSERT_TRUE(pool_->rename_instance("c1", "c9"));
    EXPECT_EQ(pool_->list_snapshots("c9"), std::vector<std::string>{"s1"});
    ASSERT_TRUE(pool_->rename_snapshot("c9", "s1", "s2"));
    ASSERT_TRUE(pool_->delete_snapshot("c9", "s2"));
    EXPECT_TRUE(pool_->list_snapshots("c9").empty());
    ASSERT_TRUE(pool_->create_snapshot("c9", "keep"));
    for (const char* n : {"c9", "c2", "c3"}) {
        auto d = pool_->delete_instance(n);
        ASSERT_TRUE(d) << n << ": " << d.error().message();
        EXPECT_FALSE(base::path_exists(pool_path_ + "/containers/" + n));
    }
    auto e = pool_->create_empty_instance("e1", 0, 0);
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_TRUE(std::filesystem::is_empty(e->rootfs));
    ASSERT_TRUE(pool_->delete_instance("e1"));
    ASSERT_TRUE(pool_->delete_image(kFp));
    EXPECT_FALSE(pool_->has_image(kFp));
    EXPECT_EQ(tmp_entries(pool_path_), 0u);
}

TEST_P(PoolTree, LeftoversRemovedAtOpen) {
    ASSERT_TRUE(pool_->create_instance("c1", kFp, 0, 0));
    ASSERT_TRUE(pool_->create_snapshot("c1", "s"));
    // What a kill in the middle of a copy or delete leaves: trees under tmp/.
    ASSERT_EQ(::rename((pool_path_ + "/containers/c1").c_str(), (pool_path_ + "/tmp/discard-x").c_str()), 0);
    pool_.reset();
    auto p = store::open_pool(GetParam(), pool_path_);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(tmp_entries(pool_path_), 0u);
    EXPECT_TRUE((*p)->has_image(kFp));
    pool_ = std::move(*p);
}

TEST_P(PoolTree, ContainerBootsOnInstance) {
    test::TestContainer ct("busybox", "lxmt-tree1");
    if (!ct.available()) GTEST_SKIP() << ct.unavailable_reason();
    auto r = pool_->create_instance("c1", kFp, ct.host_base(), ct.host_base());
    ASSERT_TRUE(r);
    ct.spec().rootfs = r->rootfs;
    ct.spec().upper_dir.clear();
    ct.spec().work_dir.clear();
    auto l = ct.start();
    ASSERT_TRUE(l) << l.error().message();
    auto ex = ct.exec({"sh", "-c", "echo inside > /root/made && ls -ln /root/made"});
    ASSERT_TRUE(ex) << ex.error().message();
    EXPECT_EQ(ex->code, 0) << ex->err;
    EXPECT_NE(ex->out.find(" 0 "), std::string::npos) << ex->out;
    ASSERT_TRUE(ct.stop(10, true));
    // Through the idmapped mount the file lands unshifted in the tree.
    struct stat st;
    ASSERT_EQ(::stat((r->rootfs + "/root/made").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
    EXPECT_EQ(slurp(r->rootfs + "/root/made"), "inside\n");
}

INSTANTIATE_TEST_SUITE_P(Drivers, PoolTree, ::testing::Values("dir", "btrfs"),
                         [](const auto& info) { return info.param; });
