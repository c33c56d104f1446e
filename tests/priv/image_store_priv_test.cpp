// The image store with a real rootfs: the busybox recipe tree packed into a
// unified LXD image, imported, unpacked into an overlay pool as root; the
// unpacked tree matches the original (types, modes, owners, sizes, link targets).
#include <gtest/gtest.h>

#include <unistd.h>

#include "lxm/base/spawn.hpp"
#include "store/image_store.hpp"
#include "store/pool_driver.hpp"
#include "tests/support/container_fixture.hpp"

using namespace lxm;
using lxm::test::TempDir;

namespace {

// One line per entry (devices and sockets left out: the unpacker skips them).
std::string listing(const std::string& dir) {
    base::SpawnOptions o;
    // Directory sizes depend on the order entries were made in: compared for files only.
    o.argv = {"sh", "-c",
              "cd \"$1\" && find . \\( -type d -printf '%y %m %U %G %p\\n' \\) -o \\( ! -type d ! -type c ! -type b ! -type s "
              "-printf '%y %m %U %G %s %l %n %p\\n' \\) | sort",
              "sh", dir};
    o.output_limit = 64 * 1024 * 1024;
    auto r = base::spawn_checked(o);
    return r ? r->out : "<" + r.error().message() + ">";
}

}  // namespace

TEST(ImageStorePriv, BusyboxRoundTripThroughPool) {
    LXM_REQUIRE_ROOT();
    std::string why;
    std::string rootfs = test::cached_rootfs("busybox", &why);
    if (rootfs.empty()) GTEST_SKIP() << why;
    TempDir t("imgpriv");
    auto s = store::ImageStore::open(t / "images");
    ASSERT_TRUE(s) << s.error().message();
    store::ImageMetadata meta;
    meta.architecture = "x86_64";
    meta.creation_date = 1700000000;
    meta.properties = {{"os", "busybox"}, {"release", "host"}, {"description", "busybox init and shell"}};
    auto img = s->import_rootfs_dir(rootfs, meta);
    ASSERT_TRUE(img) << img.error().message();
    EXPECT_EQ(img->metadata.properties.at("os"), "busybox");

    auto pool = store::open_pool("overlay", t / "pool");
    ASSERT_TRUE(pool) << pool.error().message();
    auto e = (*pool)->ensure_image(img->fingerprint, [&](const std::string& dir) -> base::Result<void> {
        LXM_TRY(auto report, s->unpack_rootfs(img->fingerprint, dir));
        (void)report;
        return {};
    });
    ASSERT_TRUE(e) << e.error().message();
    auto unpacked = (*pool)->image_rootfs(img->fingerprint);
    ASSERT_TRUE(unpacked);
    std::string want = listing(rootfs), got = listing(*unpacked);
    EXPECT_GT(want.size(), 100u);
    EXPECT_EQ(got, want);
}
