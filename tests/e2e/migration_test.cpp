// Migration between two lxmd hosts on one machine (tests/support/two_hosts.hpp: each in
// its own network namespace on a test bridge), driven by the real `lxm` CLI with remotes
// added by join tokens over HTTPS:
//   - copy and move of a stopped busybox container with two snapshots: the copy boots on
//     the target with its files and snapshots; after the move the source is gone and the
//     moved container boots;
//   - the target lxmd killed halfway through a move: the move fails, the source is
//     unchanged and starts, the target (restarted) has no instance and nothing in tmp/;
//   - the target's link cut halfway through a move (its veth down): both daemons give the
//     streams up after LXM_MIGRATION_TIMEOUT (8 s here) without progress and keep serving;
//     the source is unchanged and starts, the target has no row, volume or tmp/ entry; once
//     the link is back the move has failed and a new copy succeeds;
//   - the real LXD client (`lxc` 5.0) with both hosts as remotes (join tokens): lxc copy and
//     lxc move of a stopped Debian 12 container with two snapshots; the moved one boots to
//     running on the target;
//   - lxm copy --refresh: an existing copy gets the snapshot it lacks and the current root,
//     loses the snapshot the source no longer has, and keeps its own config;
//   - --live on this host: the clear CRIU error, the source keeps running.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "lxm/base/file.hpp"
#include "tests/e2e/migration_fixture.hpp"

extern char** environ;

namespace lxm::test {
namespace {

class Migration : public MigrationHosts {
protected:
    // lxc's remotes lxm0 and lxm1, each added with a join token of its host.
    void add_lxc_remotes() {
        for (int i = 0; i < 2; ++i) {
            CmdResult a = lxc("remote add lxm" + std::to_string(i) + " " + token(i));
            ASSERT_EQ(a.code, 0) << a.out << hosts_.log(i);
        }
    }
    // `lxm move h0:n h1:` in the background (output in move.out); its pid.
    pid_t start_move(const std::string& n) { return lxm_background("move h0:" + n + " h1:", "move.out"); }
};

TEST_F(Migration, CopyAndMoveStoppedWithSnapshots) {
    std::string n = Lxmd::name("mig");
    make_source(n);

    CmdResult r = lxm("copy h0:" + n + " h1:" + n + "-c");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    std::string c = n + "-c";
    EXPECT_EQ(snapshot_names(1, c), (std::vector<std::string>{"s1", "s2"}));
    auto inst = c_[1]->get("/1.0/instances/" + c);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["config"].value("user.note", ""), "hello");
    EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
    // The source is untouched, its temporary pool snapshot gone.
    EXPECT_TRUE(exists(0, n));
    EXPECT_EQ(entries(pool(0) + "/containers/" + n + "/snapshots"), (std::vector<std::string>{"s1", "s2"}));
    ASSERT_EQ(change_state(*c_[1], c, "start"), "") << hosts_.log(1);
    EXPECT_EQ(exec_code(*c_[1], c, {"sh", "-c", "test \"$(cat /root/f)\" = three"}), 0);
    EXPECT_EQ(exec_code(*c_[1], c, {"sh", "-c", "test \"$(stat -c %u /root/f)\" = 1000"}), 0);
    ASSERT_EQ(async(1, "PUT", "/1.0/instances/" + c, json{{"restore", "s1"}}), "");
    EXPECT_EQ(exec_code(*c_[1], c, {"sh", "-c", "test \"$(cat /root/f)\" = one"}), 0);
    // A second copy under the same name is refused by the target.
    r = lxm("copy h0:" + n + " h1:" + c);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("already exists"), std::string::npos) << r.out;

    // Move: the source goes only once the target has it; the moved one boots.
    r = lxm("move h0:" + n + " h1:");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    EXPECT_FALSE(exists(0, n));
    EXPECT_FALSE(base::path_exists(pool(0) + "/containers/" + n));
    ASSERT_TRUE(exists(1, n));
    EXPECT_EQ(snapshot_names(1, n), (std::vector<std::string>{"s1", "s2"}));
    ASSERT_EQ(change_state(*c_[1], n, "start"), "") << hosts_.log(1);
    EXPECT_EQ(exec_code(*c_[1], n, {"sh", "-c", "test \"$(cat /root/f)\" = three"}), 0);
    for (const auto& x : {n, c}) {
        (void)change_state(*c_[1], x, "stop", true);
        EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + x), "");
    }
}

TEST_F(Migration, KilledTargetLeavesSourceIntactAndNothingOnTarget) {
    std::string n = Lxmd::name("migk");
    make_source(n, 300);
    // The move in the background; kill the target once it is receiving.
    pid_t mover = start_move(n);
    EXPECT_TRUE(wait_receiving()) << hosts_.log(1);
    hosts_.stop(1, SIGKILL);
    int st = 0;
    while (::waitpid(mover, &st, 0) < 0 && errno == EINTR) {
    }
    std::string out = base::read_file(conf_.path() + "/move.out").value_or("");
    EXPECT_FALSE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;

    // The source: as it was, and it runs.
    ASSERT_TRUE(exists(0, n)) << out;
    EXPECT_EQ(snapshot_names(0, n), (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(entries(pool(0) + "/containers/" + n + "/snapshots"), (std::vector<std::string>{"s1", "s2"}));
    auto inst = c_[0]->get("/1.0/instances/" + n);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["status"], "Stopped");
    ASSERT_EQ(change_state(*c_[0], n, "start"), "") << hosts_.log(0);
    EXPECT_EQ(exec_code(*c_[0], n, {"sh", "-c", "test \"$(cat /root/f)\" = three && test -s /root/big"}), 0);

    // The target after a restart: nothing of it.
    std::string why;
    ASSERT_TRUE(hosts_.start(1, &why)) << why;
    auto c1 = client::Client::connect_unix(hosts_.host(1).socket());
    ASSERT_TRUE(c1);
    c_[1].emplace(std::move(*c1));
    EXPECT_FALSE(exists(1, n));
    EXPECT_FALSE(base::path_exists(pool(1) + "/containers/" + n));
    EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
    auto list = c_[1]->get("/1.0/instances");
    ASSERT_TRUE(list);
    EXPECT_TRUE(list->empty()) << list->dump();

    ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(Migration, CutLinkHalfwayLeavesSourceIntactAndNothingOnTarget) {
    std::string n = Lxmd::name("migc");
    make_source(n, 300);
    pid_t mover = start_move(n);
    bool receiving = wait_receiving();
    // The cable is pulled: the target's veth goes down (the test bridge's own link).
    ASSERT_TRUE(hosts_.link(1, false));
    EXPECT_TRUE(receiving) << hosts_.log(1);
    auto t0 = std::chrono::steady_clock::now();

    // Both daemons give the migration up on their own, and answer meanwhile (unix sockets).
    bool settled = false;
    while (!settled && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(6 * kStreamTimeout)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        int a = running_migrations(0), b = running_migrations(1);
        ASSERT_GE(a, 0) << "host 0 stopped answering" << hosts_.log(0);
        ASSERT_GE(b, 0) << "host 1 stopped answering" << hosts_.log(1);
        settled = a == 0 && b == 0;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(settled) << "migration operations still running " << secs << " s after the cut\n"
                         << hosts_.log(0) << hosts_.log(1);
    std::printf("both sides gave the migration up %.1f s after the cut (timeout %d s)\n", secs, kStreamTimeout);

    // The target: nothing half-made.
    EXPECT_FALSE(exists(1, n));
    EXPECT_FALSE(base::path_exists(pool(1) + "/containers/" + n));
    EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
    auto list = c_[1]->get("/1.0/instances");
    ASSERT_TRUE(list);
    EXPECT_TRUE(list->empty()) << list->dump();
    // The source: as it was (no temporary snapshot left), still stopped.
    ASSERT_TRUE(exists(0, n));
    EXPECT_EQ(snapshot_names(0, n), (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(entries(pool(0) + "/containers/" + n + "/snapshots"), (std::vector<std::string>{"s1", "s2"}));
    auto inst = c_[0]->get("/1.0/instances/" + n);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["status"], "Stopped");

    // The link comes back: the client learns that the move failed and deletes nothing.
    ASSERT_TRUE(hosts_.link(1, true));
    int st = 0;
    while (::waitpid(mover, &st, 0) < 0 && errno == EINTR) {
    }
    std::string out = base::read_file(conf_.path() + "/move.out").value_or("");
    EXPECT_FALSE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
    std::printf("lxm move: %s\n", out.c_str());
    ASSERT_TRUE(exists(0, n)) << out;
    ASSERT_EQ(change_state(*c_[0], n, "start"), "") << hosts_.log(0);
    EXPECT_EQ(exec_code(*c_[0], n, {"sh", "-c", "test \"$(cat /root/f)\" = three && test -s /root/big"}), 0);
    ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");

    // Both still serve each other: the same copy now goes through.
    CmdResult r = lxm("copy h0:" + n + " h1:" + n);
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    EXPECT_EQ(snapshot_names(1, n), (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + n), "");
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(Migration, LxcCopyAndMoveDebianBetweenLxmHosts) {
    if (sh("command -v lxc").code != 0) GTEST_SKIP() << "lxc (package lxd-client) is not installed";
    std::string why;
    if (cached_rootfs("debian-12", &why).empty()) GTEST_SKIP() << "debian-12 rootfs unavailable: " << why;
    add_lxc_remotes();
    if (HasFatalFailure()) return;
    // A Debian 12 container on host 0: /root/f = one (s1), two (s2), three (now); stopped.
    std::string n = Lxmd::name("lxcm");
    json body{{"name", n}, {"source", {{"type", "image"}, {"alias", "debian/12"}}}};
    ASSERT_EQ(async(0, "POST", "/1.0/instances", body), "") << hosts_.log(0);
    ASSERT_EQ(change_state(*c_[0], n, "start"), "") << hosts_.log(0);
    for (const char* step : {"one", "two"}) {
        ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", std::string("echo ") + step + " > /root/f"}), 0);
        std::string snap = std::string(step) == "one" ? "s1" : "s2";
        ASSERT_EQ(async(0, "POST", "/1.0/instances/" + n + "/snapshots", json{{"name", snap}}), "");
    }
    ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", "echo three > /root/f"}), 0);
    ASSERT_TRUE(c_[0]->patch("/1.0/instances/" + n, json{{"config", {{"user.note", "from-lxc"}}}}));
    ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");

    // lxc copy (pull mode, lxc's default: the target lxmd dials the source's operation).
    CmdResult r = lxc("copy lxm0:" + n + " lxm1:" + n + "-c");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    const std::string c = n + "-c";
    EXPECT_EQ(snapshot_names(1, c), (std::vector<std::string>{"s1", "s2"}));
    auto inst = c_[1]->get("/1.0/instances/" + c);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["config"].value("user.note", ""), "from-lxc");
    EXPECT_TRUE(exists(0, n));
    EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
    r = lxc("list lxm1: --format csv -c ns");
    EXPECT_NE(r.out.find(c + ",STOPPED"), std::string::npos) << r.out;

    // lxc move: the source goes once the target has it; the moved one boots to running.
    r = lxc("move lxm0:" + n + " lxm1:");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    EXPECT_FALSE(exists(0, n));
    EXPECT_FALSE(base::path_exists(pool(0) + "/containers/" + n));
    ASSERT_TRUE(exists(1, n));
    EXPECT_EQ(snapshot_names(1, n), (std::vector<std::string>{"s1", "s2"}));
    r = lxc("start lxm1:" + n);
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(1);
    EXPECT_EQ(exec_code(*c_[1], n,
                        {"sh", "-c",
                         "for i in $(seq 300); do [ -S /run/systemd/private ] && break; sleep 0.1; done; "
                         "timeout 120 systemctl is-system-running --wait"}),
              0)
        << "systemd did not reach running on the target";
    r = lxc("exec lxm1:" + n + " -- cat /root/f");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("three"), std::string::npos) << r.out;
    r = lxc("list lxm1: --format csv -c ns");
    EXPECT_NE(r.out.find(n + ",RUNNING"), std::string::npos) << r.out;
    r = lxc("restore lxm1:" + n + " s1");
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxc("exec lxm1:" + n + " -- cat /root/f");
    EXPECT_NE(r.out.find("one"), std::string::npos) << r.out;

    for (const auto& x : {n, c}) {
        r = lxc("delete --force lxm1:" + x);
        EXPECT_EQ(r.code, 0) << r.out;
    }
}

TEST_F(Migration, RefreshSendsOnlyMissingSnapshotsAndTheRoot) {
    std::string n = Lxmd::name("migr");
    make_source(n);
    CmdResult r = lxm("copy h0:" + n + " h1:" + n);
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    ASSERT_TRUE(c_[1]->patch("/1.0/instances/" + n, json{{"config", {{"user.target", "kept"}}}}));

    // The source moves on: s1 goes, s3 comes, the root changes again.
    ASSERT_EQ(change_state(*c_[0], n, "start"), "");
    ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", "echo four > /root/f && echo x > /root/gone"}), 0);
    ASSERT_EQ(async(0, "POST", "/1.0/instances/" + n + "/snapshots", json{{"name", "s3"}}), "");
    ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", "echo five > /root/f && rm /root/gone && touch /root/new"}), 0);
    ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");
    ASSERT_EQ(async(0, "DELETE", "/1.0/instances/" + n + "/snapshots/s1"), "");

    // Without --refresh the target refuses; with it, the copy catches up.
    r = lxm("copy h0:" + n + " h1:" + n);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("already exists"), std::string::npos) << r.out;
    struct stat before {};
    ASSERT_EQ(::stat((pool(1) + "/containers/" + n + "/snapshots/s2").c_str(), &before), 0);
    r = lxm("copy --refresh h0:" + n + " h1:" + n);
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    // s2 stayed as it was (the same directory): only s3 and the root travelled.
    struct stat after {};
    ASSERT_EQ(::stat((pool(1) + "/containers/" + n + "/snapshots/s2").c_str(), &after), 0);
    EXPECT_EQ(before.st_ino, after.st_ino);
    EXPECT_EQ(snapshot_names(1, n), (std::vector<std::string>{"s2", "s3"}));
    EXPECT_EQ(entries(pool(1) + "/containers/" + n + "/snapshots"), (std::vector<std::string>{"s2", "s3"}));
    EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
    auto inst = c_[1]->get("/1.0/instances/" + n);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["config"].value("user.target", ""), "kept");
    ASSERT_EQ(change_state(*c_[1], n, "start"), "") << hosts_.log(1);
    EXPECT_EQ(exec_code(*c_[1], n,
                        {"sh", "-c",
                         "test \"$(cat /root/f)\" = five && test -e /root/new && test ! -e /root/gone && "
                         "test \"$(stat -c %u /root/f)\" = 1000"}),
              0);
    // A running target is refused, and keeps running.
    r = lxm("copy --refresh h0:" + n + " h1:" + n);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("stop it first"), std::string::npos) << r.out;
    ASSERT_EQ(change_state(*c_[1], n, "stop", true), "");
    ASSERT_EQ(async(1, "PUT", "/1.0/instances/" + n, json{{"restore", "s3"}}), "");
    ASSERT_EQ(change_state(*c_[1], n, "start"), "");
    EXPECT_EQ(exec_code(*c_[1], n, {"sh", "-c", "test \"$(cat /root/f)\" = four"}), 0);
    ASSERT_EQ(change_state(*c_[1], n, "stop", true), "");
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + n), "");
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(Migration, LxcPushAndRelayModes) {
    if (sh("command -v lxc").code != 0) GTEST_SKIP() << "lxc (package lxd-client) is not installed";
    add_lxc_remotes();
    if (HasFatalFailure()) return;
    std::string n = Lxmd::name("migp");
    make_source(n);
    // push: the target offers the websockets, the source dials them and sends.
    CmdResult r = lxc("copy --mode push lxm0:" + n + " lxm1:" + n + "-push");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    // relay: both offer, lxc copies the frames between them.
    r = lxc("copy --mode relay lxm0:" + n + " lxm1:" + n + "-relay");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    // lxc copy --refresh (pull; then lxc PUTs the source's config onto the copy): the new s3 arrives.
    ASSERT_EQ(async(0, "POST", "/1.0/instances/" + n + "/snapshots", json{{"name", "s3"}}), "");
    r = lxc("copy --refresh lxm0:" + n + " lxm1:" + n + "-relay");
    EXPECT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    EXPECT_EQ(snapshot_names(1, n + "-relay"), (std::vector<std::string>{"s1", "s2", "s3"}));
    ASSERT_EQ(async(1, "DELETE", "/1.0/instances/" + n + "-relay/snapshots/s3"), "");
    for (const std::string& x : {n + "-push", n + "-relay"}) {
        EXPECT_EQ(snapshot_names(1, x), (std::vector<std::string>{"s1", "s2"})) << x;
        ASSERT_EQ(change_state(*c_[1], x, "start"), "") << x << hosts_.log(1);
        EXPECT_EQ(exec_code(*c_[1], x, {"sh", "-c", "test \"$(cat /root/f)\" = three"}), 0) << x;
        ASSERT_EQ(change_state(*c_[1], x, "stop", true), "");
        EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + x), "");
    }
    EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
    EXPECT_EQ(entries(pool(0) + "/containers/" + n + "/snapshots"), (std::vector<std::string>{"s1", "s2", "s3"}));
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(Migration, LiveMigrationRefusedWithCriuReasonSourceKeepsRunning) {
    std::string n = Lxmd::name("migl");
    ASSERT_EQ(launch(*c_[0], n, true), "");
    CmdResult check = sh("criu check");
    CmdResult r = lxm("move h0:" + n + " h1: --live");
    if (check.code == 0) GTEST_SKIP() << "criu check passes on this host; the live path is not built: " << r.out;
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("CRIU cannot checkpoint"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("criu check"), std::string::npos) << r.out;
    auto inst = c_[0]->get("/1.0/instances/" + n);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["status"], "Running");
    EXPECT_EQ(exec_code(*c_[0], n, {"true"}), 0);
    EXPECT_FALSE(exists(1, n));
    ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

}  // namespace
}  // namespace lxm::test
