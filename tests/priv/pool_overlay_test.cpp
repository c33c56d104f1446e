// The overlay pool driver on the real kernel with the busybox image: create,
// writes through a real overlay mount (whiteouts, opaque dirs), snapshot,
// restore, copy with shifted owners, rename, delete, and all-or-nothing
// behaviour when a step fails in the middle (a full filesystem).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "lxm/runtime/idmap.hpp"
#include "lxm/runtime/rootfs.hpp"
#include "store/pool_driver.hpp"
#include "store/pool_fs.hpp"
#include "tests/support/container_fixture.hpp"

using namespace lxm;
using lxm::test::TempDir;

namespace {

constexpr const char* kFp = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr uid_t kBase = 3100000;
constexpr uid_t kBase2 = 3200000;

// Unpack callback: a copy of the cached busybox rootfs.
std::function<base::Result<void>(const std::string&)> copy_from(const std::string& rootfs, int* calls = nullptr) {
    return [rootfs, calls](const std::string& dir) -> base::Result<void> {
        if (calls) ++*calls;
        base::SpawnOptions o;
        o.argv = {"cp", "-a", rootfs + "/.", dir + "/"};
        LXM_TRY_VOID(base::spawn_checked(o));
        return {};
    };
}

// Run fn in a forked child with a private mount namespace (mounts vanish with
// it); returns the child's error text, empty on success.
std::string in_mount_ns(const std::function<std::string()>& fn) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(p[0]);
        std::string err;
        if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            err = "private mount namespace: " + std::string(strerror(errno));
        else
            err = fn();
        (void)!::write(p[1], err.data(), err.size());
        ::_exit(err.empty() ? 0 : 1);
    }
    ::close(p[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (out.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) out = "child failed";
    return out;
}

// Mount the instance's overlay at mnt (inside in_mount_ns) and run fn on the merged tree.
std::string with_overlay(const store::InstanceRootfs& r, const std::string& mnt,
                         const std::function<std::string(const std::string&)>& fn) {
    return in_mount_ns([&]() -> std::string {
        if (auto m = base::mkdir_p(mnt); !m) return m.error().message();
        std::string opts = "lowerdir=" + r.rootfs + ",upperdir=" + r.upper_dir + ",workdir=" + r.work_dir;
        if (::mount("overlay", mnt.c_str(), "overlay", 0, opts.c_str()) != 0)
            return "mount overlay: " + std::string(strerror(errno));
        return fn(mnt);
    });
}

std::string slurp(const std::string& path) {
    auto r = base::read_file(path);
    return r ? *r : "<missing>";
}

struct stat lstat_of(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) st.st_mode = 0;
    return st;
}

size_t tmp_entries(const std::string& pool) {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(pool + "/tmp")) (void)e, ++n;
    return n;
}

class PoolOverlay : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (priv test)";
        std::string why;
        rootfs_ = test::cached_rootfs("busybox", &why);
        if (rootfs_.empty()) GTEST_SKIP() << why;
        pool_path_ = tmp_ / "pool";
        auto p = store::open_pool("overlay", pool_path_);
        ASSERT_TRUE(p) << p.error().message();
        pool_ = std::move(*p);
        auto e = pool_->ensure_image(kFp, copy_from(rootfs_, &unpacks_));
        ASSERT_TRUE(e) << e.error().message();
    }

    TempDir tmp_{"pool"};
    std::string rootfs_, pool_path_;
    std::unique_ptr<store::PoolDriver> pool_;
    int unpacks_ = 0;
};

}  // namespace

TEST_F(PoolOverlay, ImageUnpackedOnce) {
    EXPECT_EQ(unpacks_, 1);
    EXPECT_TRUE(pool_->has_image(kFp));
    ASSERT_TRUE(pool_->ensure_image(kFp, copy_from(rootfs_, &unpacks_)));
    EXPECT_EQ(unpacks_, 1);
    auto root = pool_->image_rootfs(kFp);
    ASSERT_TRUE(root);
    EXPECT_EQ(*root, pool_path_ + "/images/" + kFp + "/rootfs");
    EXPECT_TRUE(base::path_exists(*root + "/bin/busybox"));
    EXPECT_TRUE(base::path_exists(pool_path_ + "/images/" + kFp + "/.complete"));
    EXPECT_EQ(tmp_entries(pool_path_), 0u);
}

TEST_F(PoolOverlay, FailedUnpackLeavesNothing) {
    std::string other = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    auto r = pool_->ensure_image(other, [](const std::string& dir) -> base::Result<void> {
        (void)base::write_file(dir + "/half", "x", true);
        return base::make_error(std::errc::io_error, "tarball truncated");
    });
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("tarball truncated"), std::string::npos);
    EXPECT_FALSE(pool_->has_image(other));
    EXPECT_FALSE(base::path_exists(pool_path_ + "/images/" + other));
    EXPECT_EQ(tmp_entries(pool_path_), 0u);
}

TEST_F(PoolOverlay, CreateMatchesRuntimeAndIsRecorded) {
    auto r = pool_->create_instance("c1", kFp, kBase, kBase);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->rootfs, pool_path_ + "/images/" + kFp + "/rootfs");
    EXPECT_EQ(r->upper_dir, pool_path_ + "/containers/c1/upper");
    EXPECT_EQ(r->work_dir, pool_path_ + "/containers/c1/work");
    struct stat lower = lstat_of(r->rootfs), up = lstat_of(r->upper_dir);
    EXPECT_EQ(up.st_uid, kBase);
    EXPECT_EQ(up.st_gid, kBase);
    EXPECT_EQ(up.st_mode & 07777, lower.st_mode & 07777);
    // The runtime runs prepare_overlay_dirs at every start: it must change nothing.
    ASSERT_TRUE(runtime::prepare_overlay_dirs(r->rootfs, r->upper_dir, r->work_dir, kBase, kBase));
    struct stat up2 = lstat_of(r->upper_dir);
    EXPECT_EQ(up2.st_uid, up.st_uid);
    EXPECT_EQ(up2.st_mode, up.st_mode);
    EXPECT_EQ(slurp(pool_path_ + "/containers/c1/image"), std::string(kFp) + "\n");
    EXPECT_EQ(slurp(pool_path_ + "/containers/c1/ids"), std::to_string(kBase) + " " + std::to_string(kBase) + "\n");
    EXPECT_TRUE(pool_->has_instance("c1"));
    auto again = pool_->instance_rootfs("c1");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->upper_dir, r->upper_dir);

    auto dup = pool_->create_instance("c1", kFp, kBase, kBase);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, std::errc::file_exists);
    EXPECT_FALSE(pool_->create_instance("../x", kFp, kBase, kBase));
    EXPECT_FALSE(pool_->create_instance("c2", "nosuchimage", kBase, kBase));
    EXPECT_FALSE(pool_->has_instance("c2"));
    auto busy = pool_->delete_image(kFp);
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, std::errc::device_or_resource_busy);
    EXPECT_EQ(tmp_entries(pool_path_), 0u);
}

TEST_F(PoolOverlay, SnapshotRestoreThroughRealOverlay) {
    auto r = pool_->create_instance("c1", kFp, kBase, kBase);
    ASSERT_TRUE(r) << r.error().message();
    std::string mnt = tmp_ / "mnt";

    // Change the instance the way a container does: through the overlay.
    std::string err = with_overlay(*r, mnt, [](const std::string& m) -> std::string {
        if (!base::write_file(m + "/etc/hello", "v1", true)) return "write hello";
        if (::unlink((m + "/bin/cat").c_str()) != 0) return "unlink cat";       // whiteout
        if (::rmdir((m + "/tmp").c_str()) != 0) return "rmdir tmp";             // whiteout of a dir
        if (::mkdir((m + "/tmp").c_str(), 01777) != 0) return "mkdir tmp";      // opaque dir
        if (!base::write_file(m + "/tmp/inner", "in", true)) return "write inner";
        return {};
    });
    ASSERT_EQ(err, "");
    struct stat wo = lstat_of(r->upper_dir + "/bin/cat");
    ASSERT_TRUE(S_ISCHR(wo.st_mode));
    EXPECT_EQ(wo.st_rdev, makedev(0, 0));
    char val[8] = {};
    ASSERT_GT(::lgetxattr((r->upper_dir + "/tmp").c_str(), "trusted.overlay.opaque", val, sizeof val), 0);

    ASSERT_TRUE(pool_->create_snapshot("c1", "s1"));
    EXPECT_EQ(pool_->list_snapshots("c1"), std::vector<std::string>{"s1"});
    auto again = pool_->create_snapshot("c1", "s1");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, std::errc::file_exists);
    // The snapshot keeps whiteouts and overlay xattrs.
    std::string su = pool_path_ + "/containers/c1/snapshots/s1/upper";
    EXPECT_TRUE(S_ISCHR(lstat_of(su + "/bin/cat").st_mode));
    char sval[8] = {};
    EXPECT_GT(::lgetxattr((su + "/tmp").c_str(), "trusted.overlay.opaque", sval, sizeof sval), 0);
    auto sr = pool_->snapshot_rootfs("c1", "s1");
    ASSERT_TRUE(sr);
    EXPECT_EQ(sr->upper_dir, su);
    EXPECT_EQ(sr->work_dir, "");

    err = with_overlay(*r, mnt, [](const std::string& m) -> std::string {
        if (!base::write_file(m + "/etc/hello", "v2", false)) return "rewrite hello";
        if (!base::write_file(m + "/bin/cat", "new cat", true)) return "recreate cat";
        if (!base::write_file(m + "/etc/after", "x", true)) return "write after";
        return {};
    });
    ASSERT_EQ(err, "");
    EXPECT_EQ(slurp(r->upper_dir + "/etc/hello"), "v2");

    auto rs = pool_->restore_snapshot("c1", "s1");
    ASSERT_TRUE(rs) << rs.error().message();
    err = with_overlay(*r, mnt, [](const std::string& m) -> std::string {
        if (slurp(m + "/etc/hello") != "v1") return "hello is " + slurp(m + "/etc/hello");
        if (base::path_exists(m + "/bin/cat")) return "cat is back";
        if (base::path_exists(m + "/etc/after")) return "after survived the restore";
        if (slurp(m + "/tmp/inner") != "in") return "tmp/inner lost";
        if (!base::path_exists(m + "/bin/busybox")) return "lower layer lost";
        return {};
    });
    EXPECT_EQ(err, "");
    EXPECT_EQ(lstat_of(r->upper_dir).st_uid, kBase);
    // The snapshot itself is still there and unchanged.
    EXPECT_EQ(slurp(su + "/etc/hello"), "v1");

    ASSERT_TRUE(pool_->rename_snapshot("c1", "s1", "s2"));
    EXPECT_EQ(pool_->list_snapshots("c1"), std::vector<std::string>{"s2"});
    ASSERT_TRUE(pool_->delete_snapshot("c1", "s2"));
    EXPECT_TRUE(pool_->list_snapshots("c1").empty());
    EXPECT_FALSE(pool_->restore_snapshot("c1", "s2"));
    EXPECT_EQ(tmp_entries(pool_path_), 0u);
}

TEST_F(PoolOverlay, CopyShiftsOwnersAndKeepsSource) {
    auto r = pool_->create_instance("c1", kFp, kBase, kBase);
    ASSERT_TRUE(r);
    // Files as an unprivileged container leaves them: owned by its host ids.
    std::string up = r->upper_dir;
    ASSERT_TRUE(base::mkdir_p(up + "/home/user"));
    ASSERT_EQ(::chown((up + "/home").c_str(), kBase, kBase), 0);
    ASSERT_EQ(::chown((up + "/home/user").c_str(), kBase + 1000, kBase + 1000), 0);
    ASSERT_TRUE(base::write_file(up + "/home/user/f", "data", true));
    ASSERT_EQ(::chown((up + "/home/user/f").c_str(), kBase + 1000, kBase + 100), 0);
    ASSERT_TRUE(base::write_file(up + "/suid", "#!/bin/sh\n", true, 0755));
    ASSERT_EQ(::chown((up + "/suid").c_str(), kBase, kBase), 0);
    ASSERT_EQ(::chmod((up + "/suid").c_str(), 04755), 0);
    ASSERT_EQ(::symlink("home/user/f", (up + "/link").c_str()), 0);
    ASSERT_EQ(::lchown((up + "/link").c_str(), kBase + 5, kBase + 5), 0);
    ASSERT_TRUE(base::write_file(up + "/hostfile", "h", true));  // owned by host root 0: outside the range
    ASSERT_TRUE(pool_->create_snapshot("c1", "snap"));

    auto c = pool_->copy_instance("c1", std::nullopt, "c2", kBase2, kBase2);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->rootfs, r->rootfs);
    std::string up2 = c->upper_dir;
    EXPECT_EQ(up2, pool_path_ + "/containers/c2/upper");
    EXPECT_EQ(lstat_of(up2).st_uid, kBase2);
    EXPECT_EQ(lstat_of(up2 + "/home").st_uid, kBase2);
    EXPECT_EQ(lstat_of(up2 + "/home/user").st_uid, kBase2 + 1000);
    EXPECT_EQ(lstat_of(up2 + "/home/user/f").st_uid, kBase2 + 1000);
    EXPECT_EQ(lstat_of(up2 + "/home/user/f").st_gid, kBase2 + 100);
    EXPECT_EQ(lstat_of(up2 + "/suid").st_mode & 07777, 04755u);
    EXPECT_EQ(lstat_of(up2 + "/suid").st_uid, kBase2);
    EXPECT_EQ(lstat_of(up2 + "/link").st_uid, kBase2 + 5);
    EXPECT_EQ(lstat_of(up2 + "/hostfile").st_uid, 0u);
    EXPECT_EQ(slurp(up2 + "/home/user/f"), "data");
    EXPECT_EQ(slurp(pool_path_ + "/containers/c2/ids"), std::to_string(kBase2) + " " + std::to_string(kBase2) + "\n");
    EXPECT_TRUE(pool_->list_snapshots("c2").empty());
    // The source is untouched.
    EXPECT_EQ(lstat_of(up + "/home/user/f").st_uid, kBase + 1000);
    EXPECT_EQ(lstat_of(up).st_uid, kBase);

    // From a snapshot.
    ASSERT_TRUE(base::write_file(up + "/home/user/f", "changed", false));
    auto c3 = pool_->copy_instance("c1", std::string("snap"), "c3", kBase2 + 65536, kBase2 + 65536);
    ASSERT_TRUE(c3) << c3.error().message();
    EXPECT_EQ(slurp(c3->upper_dir + "/home/user/f"), "data");
    EXPECT_EQ(lstat_of(c3->upper_dir + "/home/user/f").st_uid, kBase2 + 65536 + 1000);

    auto clash = pool_->copy_instance("c1", std::nullopt, "c2", kBase2, kBase2);
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().code, std::errc::file_exists);
    EXPECT_FALSE(pool_->copy_instance("c1", std::string("nosnap"), "c4", kBase2, kBase2));
    EXPECT_FALSE(pool_->has_instance("c4"));
    EXPECT_EQ(tmp_entries(pool_path_), 0u);
}

TEST_F(PoolOverlay, RenameAndDelete) {
    ASSERT_TRUE(pool_->create_instance("c1", kFp, kBase, kBase));
    ASSERT_TRUE(pool_->create_snapshot("c1", "s"));
    ASSERT_TRUE(pool_->create_instance("c2", kFp, kBase2, kBase2));
    EXPECT_FALSE(pool_->rename_instance("c1", "c2"));  // target exists
    ASSERT_TRUE(pool_->rename_instance("c1", "c9"));
    EXPECT_FALSE(pool_->has_instance("c1"));
    EXPECT_TRUE(pool_->has_instance("c9"));
    EXPECT_EQ(pool_->list_snapshots("c9"), std::vector<std::string>{"s"});
    auto u = pool_->instance_usage("c9");
    ASSERT_TRUE(u);
    auto pu = pool_->usage();
    ASSERT_TRUE(pu);
    EXPECT_GT(pu->used_bytes, 0u);
    ASSERT_TRUE(pool_->delete_instance("c9"));
    EXPECT_FALSE(pool_->has_instance("c9"));
    EXPECT_FALSE(base::path_exists(pool_path_ + "/containers/c9"));
    EXPECT_TRUE(pool_->delete_instance("c9"));  // idempotent
    ASSERT_TRUE(pool_->delete_instance("c2"));
    ASSERT_TRUE(pool_->delete_image(kFp));
    EXPECT_FALSE(pool_->has_image(kFp));
    EXPECT_EQ(tmp_entries(pool_path_), 0u);
}

TEST_F(PoolOverlay, EmptyInstance) {
    auto r = pool_->create_empty_instance("e1", kBase, kBase);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->rootfs, pool_path_ + "/containers/e1/lower");
    EXPECT_EQ(lstat_of(r->upper_dir).st_uid, kBase);
    auto c = pool_->copy_instance("e1", std::nullopt, "e2", kBase2, kBase2);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->rootfs, pool_path_ + "/containers/e2/lower");
    EXPECT_TRUE(base::path_exists(c->rootfs));
}

// A killed daemon leaves builds in tmp/: opening the pool removes them.
TEST_F(PoolOverlay, OpenRemovesLeftovers) {
    ASSERT_TRUE(base::mkdir_p(pool_path_ + "/tmp/copy-abcdef/upper/etc"));
    ASSERT_TRUE(base::write_file(pool_path_ + "/tmp/copy-abcdef/upper/etc/x", "x", true));
    auto p = store::open_pool("overlay", pool_path_);
    ASSERT_TRUE(p);
    EXPECT_EQ(tmp_entries(pool_path_), 0u);
    EXPECT_TRUE((*p)->has_image(kFp));
}

// A failure in the middle of snapshot, copy and restore (the filesystem fills
// up during the copy) leaves the source intact and no half-made target.
TEST_F(PoolOverlay, FullFilesystemLeavesNoHalfTarget) {
    std::string small = tmp_ / "small";
    std::string err = in_mount_ns([&]() -> std::string {
        if (!base::mkdir_p(small)) return "mkdir";
        if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=4m,mode=0711") != 0)
            return "mount tmpfs: " + std::string(strerror(errno));
        auto p = store::open_pool("overlay", small + "/pool");
        if (!p) return p.error().message();
        auto& pool = **p;
        auto img = pool.ensure_image(kFp, [](const std::string& dir) -> base::Result<void> {
            return base::mkdir_p(dir + "/etc");
        });
        if (!img) return img.error().message();
        auto r = pool.create_instance("c1", kFp, kBase, kBase);
        if (!r) return r.error().message();
        std::string big(2500 * 1024, 'x');
        if (!base::write_file(r->upper_dir + "/big", big, true)) return "write big";
        if (!base::write_file(r->upper_dir + "/small", "s", true)) return "write small";

        if (pool.create_snapshot("c1", "s1")) return "snapshot on a full fs succeeded";
        if (!pool.list_snapshots("c1").empty()) return "half snapshot listed";
        if (base::path_exists(small + "/pool/containers/c1/snapshots/s1")) return "half snapshot dir";
        if (pool.copy_instance("c1", std::nullopt, "c2", kBase2, kBase2)) return "copy on a full fs succeeded";
        if (pool.has_instance("c2") || base::path_exists(small + "/pool/containers/c2")) return "half copy";
        if (tmp_entries(small + "/pool") != 0) return "tmp not empty";
        if (slurp(r->upper_dir + "/big") != big || slurp(r->upper_dir + "/small") != "s") return "source changed";

        // Restore: a snapshot that fits, then fill the filesystem so copying the
        // snapshot back cannot fit.
        if (::unlink((r->upper_dir + "/big").c_str()) != 0) return "unlink big";
        std::string mid(1200 * 1024, 'm');
        if (!base::write_file(r->upper_dir + "/mid", mid, true)) return "write mid";
        if (!pool.create_snapshot("c1", "s2")) return "snapshot of 1.2M failed";
        if (!base::write_file(r->upper_dir + "/mid2", std::string(1000 * 1024, 'n'), true)) return "write mid2";
        if (!base::write_file(r->upper_dir + "/mark", "current", true)) return "write mark";
        if (pool.restore_snapshot("c1", "s2")) return "restore on a full fs succeeded";
        if (slurp(r->upper_dir + "/mark") != "current") return "instance changed by a failed restore";
        if (tmp_entries(small + "/pool") != 0) return "tmp not empty after restore";
        if (::unlink((r->upper_dir + "/mid2").c_str()) != 0) return "unlink mid2";
        auto rs = pool.restore_snapshot("c1", "s2");
        if (!rs) return "restore with room: " + rs.error().message();
        if (base::path_exists(r->upper_dir + "/mark")) return "restore kept newer file";
        if (slurp(r->upper_dir + "/mid") != mid) return "restore lost mid";
        return {};
    });
    EXPECT_EQ(err, "");
}

// A real unprivileged container on a pool instance: files it makes are owned by
// its host ids; a copy with other ids boots and sees them as its own.
TEST_F(PoolOverlay, ContainerBootsOnPoolInstanceAndCopy) {
    test::TestContainer ct("busybox", "lxmt-pool1");
    if (!ct.available()) GTEST_SKIP() << ct.unavailable_reason();
    uid_t base = ct.host_base();
    auto r = pool_->create_instance("c1", kFp, base, base);
    ASSERT_TRUE(r);
    ct.spec().rootfs = r->rootfs;
    ct.spec().upper_dir = r->upper_dir;
    ct.spec().work_dir = r->work_dir;
    auto l = ct.start();
    ASSERT_TRUE(l) << l.error().message();
    auto e = ct.exec({"sh", "-c", "mkdir -p /home/u && echo hi > /home/u/f && chown -R 1000:1000 /home/u && rm /bin/cat"});
    ASSERT_TRUE(e && e->code == 0) << (e ? e->err : e.error().message());
    ASSERT_TRUE(ct.stop(10, true));
    EXPECT_EQ(lstat_of(r->upper_dir + "/home/u/f").st_uid, base + 1000);

    // The copy, shifted to another range, booted by a second container with that range.
    test::TestContainer ct2("busybox", "lxmt-pool2");
    // TestContainer derives its base from the pid: give the second one its own range.
    uid_t base2 = base + 65536 * 7;
    ct2.spec().idmap = runtime::make_idmap(base2);
    auto c = pool_->copy_instance("c1", std::nullopt, "c2", base2, base2);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(lstat_of(c->upper_dir + "/home/u/f").st_uid, base2 + 1000);
    ct2.spec().rootfs = c->rootfs;
    ct2.spec().upper_dir = c->upper_dir;
    ct2.spec().work_dir = c->work_dir;
    auto l2 = ct2.start();
    ASSERT_TRUE(l2) << l2.error().message();
    auto e2 = ct2.exec({"sh", "-c", "ls -ln /home/u/f; busybox cat /home/u/f; test -e /bin/cat && echo cat-exists || echo no-cat"});
    ASSERT_TRUE(e2) << e2.error().message();
    EXPECT_EQ(e2->code, 0) << e2->err;
    EXPECT_NE(e2->out.find(" 1000 "), std::string::npos) << e2->out;
    EXPECT_NE(e2->out.find("hi\n"), std::string::npos) << e2->out;
    EXPECT_NE(e2->out.find("no-cat"), std::string::npos) << e2->out;
}
