// `lxm admin recover` against the real lxmd: after the database is lost, the instances come
// back from their backup files (with their config); --dry-run only reports; a second run
// finds nothing missing.
#include <signal.h>
#include <unistd.h>

#include "tests/e2e/cli_fixture.hpp"

namespace lxm::test {
namespace {

using CliAdmin = CliDaemon;

TEST_F(CliAdmin, RecoverAfterDatabaseLoss) {
    std::string a = name("ra"), b = name("rb");
    ASSERT_EQ(lxm({"init", "busybox", a, "-c", "user.note=kept"}).rc, 0) << log();
    ASSERT_EQ(lxm({"init", "busybox", b}).rc, 0) << log();

    // Nothing is missing yet.
    auto none = lxm({"admin", "recover"});
    EXPECT_EQ(none.rc, 0) << none.err;
    EXPECT_EQ(none.out, "No missing instances found.\nAlready in the database: 2\n");

    stop_lxmd(SIGTERM);
    for (const char* f : {"lxm.db", "lxm.db-wal", "lxm.db-shm"}) ::unlink((dir_ / (std::string("database/") + f)).c_str());
    start_lxmd();
    EXPECT_EQ(lxm({"list", "-f", "csv", "-c", "n"}).out, "");

    auto dry = lxm({"admin", "recover", "--dry-run"});
    EXPECT_EQ(dry.rc, 0) << dry.err;
    EXPECT_TRUE(dry.out == "Would recover 2 instances: " + a + ", " + b + "\nAlready in the database: 0\n" ||
                dry.out == "Would recover 2 instances: " + b + ", " + a + "\nAlready in the database: 0\n")
        << dry.out;
    EXPECT_EQ(lxm({"list", "-f", "csv", "-c", "n"}).out, "") << "a dry run changed the database";

    auto rec = lxm({"admin", "recover"});
    EXPECT_EQ(rec.rc, 0) << rec.err;
    EXPECT_TRUE(rec.out == "Recovered 2 instances: " + a + ", " + b + "\nAlready in the database: 0\n" ||
                rec.out == "Recovered 2 instances: " + b + ", " + a + "\nAlready in the database: 0\n")
        << rec.out;
    EXPECT_EQ(lxm({"list", "-f", "csv", "-c", "ns"}).out, a + ",STOPPED\n" + b + ",STOPPED\n");
    auto note = lxm({"config", "get", a, "user.note"});
    EXPECT_EQ(note.out, "kept\n") << note.err;

    auto again = lxm({"admin", "recover"});
    EXPECT_EQ(again.out, "No missing instances found.\nAlready in the database: 2\n");

    // Started after recovery, it boots from its own root volume.
    ASSERT_EQ(lxm({"start", a}).rc, 0) << log();
    EXPECT_EQ(lxm({"exec", a, "--", "sh", "-c", "exit 4"}).rc, 4);
    EXPECT_EQ(lxm({"delete", "--force", a}).rc, 0);
    EXPECT_EQ(lxm({"delete", b}).rc, 0);
}

}  // namespace
}  // namespace lxm::test
