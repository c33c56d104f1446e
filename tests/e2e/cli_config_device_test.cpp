// e2e: `lxm config device ...` and `lxm profile device ...` (lxm/cli/config_device.cpp)
// through the real CLI and lxmd, on stopped instances (no container starts here).
#include "tests/e2e/cli_fixture.hpp"

namespace lxm::test {
namespace {

class CliConfigDevice : public CliDaemon {};

TEST_F(CliConfigDevice, AddSetGetRemoveOverride) {
    const std::string c1 = name("dev");
    auto init = lxm({"init", "busybox", c1});
    ASSERT_EQ(init.rc, 0) << init.err << log();

    auto r = lxm({"config", "device", "add", c1, "web", "proxy", "listen=tcp:127.0.0.1:18080",
                  "connect=tcp:127.0.0.1:80"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "Device web added to " + c1 + "\n");
    r = lxm({"config", "device", "add", c1, "web", "proxy", "listen=tcp:127.0.0.1:18081", "connect=tcp:127.0.0.1:80"});
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find("The device already exists"), std::string::npos) << r.err;
    // The server's validation reaches the user: bad address syntax.
    r = lxm({"config", "device", "add", c1, "bad", "proxy", "listen=tcp:127.0.0.1", "connect=tcp:127.0.0.1:80"});
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find("listen \"tcp:127.0.0.1\": no port"), std::string::npos) << r.err;

    r = lxm({"config", "device", "list", c1});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "web\n");
    r = lxm({"config", "device", "get", c1, "web", "listen"});
    EXPECT_EQ(r.out, "tcp:127.0.0.1:18080\n");
    ASSERT_EQ(lxm({"config", "device", "set", c1, "web", "listen", "tcp:127.0.0.1:18082"}).rc, 0);
    ASSERT_EQ(lxm({"config", "device", "set", c1, "web", "nat=false", "description=relay"}).rc, 0);
    r = lxm({"config", "device", "show", c1});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("listen: tcp:127.0.0.1:18082"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nat: \"false\""), std::string::npos) << r.out;
    ASSERT_EQ(lxm({"config", "device", "unset", c1, "web", "description"}).rc, 0);
    r = lxm({"config", "device", "get", c1, "web", "description"});
    EXPECT_EQ(r.out, "\n");
    r = lxm({"config", "device", "unset", c1, "web", "description"});
    EXPECT_NE(r.rc, 0);

    // A device from a profile: remove refuses it, override/set copy it into the instance.
    const std::string p = name("devp");
    ASSERT_EQ(lxm({"profile", "create", p}).rc, 0);
    ASSERT_EQ(lxm({"profile", "device", "add", p, "side", "proxy", "listen=tcp:127.0.0.1:18090",
                   "connect=tcp:127.0.0.1:90"}).rc,
              0);
    r = lxm({"profile", "device", "list", p});
    EXPECT_EQ(r.out, "side\n");
    ASSERT_EQ(lxm({"profile", "assign", c1, "default," + p}).rc, 0) << log();
    r = lxm({"config", "device", "get", c1, "side", "connect"});
    EXPECT_EQ(r.out, "tcp:127.0.0.1:90\n");
    r = lxm({"config", "device", "remove", c1, "side"});
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find("Override device or modify profile instead"), std::string::npos) << r.err;
    r = lxm({"config", "device", "override", c1, "side", "connect=tcp:127.0.0.1:91"});
    ASSERT_EQ(r.rc, 0) << r.err;
    r = lxm({"config", "device", "list", c1});
    EXPECT_EQ(r.out, "side\nweb\n");
    r = lxm({"config", "device", "get", c1, "side", "connect"});
    EXPECT_EQ(r.out, "tcp:127.0.0.1:91\n");
    r = lxm({"profile", "device", "get", p, "side", "connect"});
    EXPECT_EQ(r.out, "tcp:127.0.0.1:90\n");

    r = lxm({"config", "device", "remove", c1, "web", "side"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "Device web removed from " + c1 + "\nDevice side removed from " + c1 + "\n");
    r = lxm({"config", "device", "list", c1});
    EXPECT_EQ(r.out, "");
    r = lxm({"config", "device", "remove", c1, "nothing"});
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find("Device doesn't exist"), std::string::npos) << r.err;
    ASSERT_EQ(lxm({"profile", "device", "remove", p, "side"}).rc, 0);

    ASSERT_EQ(lxm({"delete", c1}).rc, 0);
    ASSERT_EQ(lxm({"profile", "delete", p}).rc, 0);
}

}  // namespace
}  // namespace lxm::test
