// Compatibility: the unmodified LXD client (`lxc`, package lxd-client) and
// pylxd (python3-pylxd) drive lxmd over its unix socket. Skips with the reason
// when either is not installed.
#include <gtest/gtest.h>

#include <cstdio>
#include <sys/wait.h>

#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

class Compat : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        ASSERT_TRUE(d_.start({}, &why)) << why;
        env_ = "HOME=" + home_.path() + " LXD_CONF=" + home_.path() + "/lxc LXD_SOCKET=" + d_.socket() +
               " LXD_DIR=" + d_.state() + " ";
    }
    CmdResult lxc(const std::string& args) { return sh(env_ + "timeout 120 lxc " + args); }

    Lxmd d_;
    TempDir home_{"home"};
    std::string env_;
};

TEST_F(Compat, LxcClient) {
    if (sh("command -v lxc").code != 0) GTEST_SKIP() << "lxc (package lxd-client) is not installed";
    std::string n = Lxmd::name("lxc");
    CmdResult r = lxc("list --format csv");
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxc("launch busybox " + n);
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("list --format csv -c ns");
    EXPECT_NE(r.out.find(n + ",RUNNING"), std::string::npos) << r.out;
    r = lxc("exec " + n + " -- sh -c 'echo out; echo err >&2; exit 5'");
    EXPECT_EQ(r.code, 5) << r.out;
    EXPECT_NE(r.out.find("out"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("err"), std::string::npos) << r.out;
    r = lxc("exec " + n + " -- true");
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxc("config show " + n);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("image.os: busybox"), std::string::npos) << r.out;
    r = lxc("info " + n);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("RUNNING"), std::string::npos) << r.out;
    r = lxc("stop " + n);
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxc("list --format csv -c ns");
    EXPECT_NE(r.out.find(n + ",STOPPED"), std::string::npos) << r.out;
    r = lxc("start " + n);
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxc("delete --force " + n);
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxc("list --format csv");
    EXPECT_EQ(r.out.find(n), std::string::npos) << r.out;
}

TEST_F(Compat, Pylxd) {
    if (sh("/usr/bin/python3 -c 'import pylxd'").code != 0) GTEST_SKIP() << "pylxd (package python3-pylxd) is not installed";
    std::string n = Lxmd::name("py");
    std::string script = R"PY(
import sys, pylxd
name = sys.argv[1]
c = pylxd.Client()
ct = c.containers.create({"name": name, "source": {"type": "image", "alias": "busybox"}}, wait=True)
ct.start(wait=True)
ct.sync()
assert ct.status == "Running", ct.status
res = ct.execute(["sh", "-c", "echo hi; exit 4"])
assert res.exit_code == 4, res
assert res.stdout.strip() == "hi", res
ct.stop(wait=True)
ct.sync()
assert ct.status == "Stopped", ct.status
ct.delete(wait=True)
assert name not in [x.name for x in c.containers.all()]
print("pylxd ok")
)PY";
    std::string path = home_ / "t.py";
    ASSERT_TRUE(base::write_file(path, script, true));
    CmdResult r = sh(env_ + "timeout 120 /usr/bin/python3 " + path + " " + n);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("pylxd ok"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace lxm::test
