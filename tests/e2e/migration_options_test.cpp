// The user's options on copies and moves between two lxmd hosts (tests/support/two_hosts.hpp),
// through the real `lxm` CLI (remotes h0, h1) and the real LXD 5.0 client (remotes lxm0, lxm1):
//   - lxm copy -c limits.memory=... -p default -p extra -d pd,user.k=v -s p2 -e: the target's
//     instance has the override over the source's keys, the profiles asked for (extra exists
//     only on the target), the device taken from the target's profile with the override, its
//     root and snapshots in pool p2, and the memory limit applies when it runs;
//   - the same through `lxc copy -c ... -p ... -s ...`; lxc's -s naming a pool the target lacks
//     falls back to the profiles' pool, as LXD does;
//   - an unknown profile or a bad key on the target in pull, push and relay mode: a clear error,
//     nothing on the target (no instance, nothing in tmp/, no operation left running), the
//     source as it was (no temporary pool snapshot);
//   - lxm copy --mode push and --mode relay (relay also from the unix socket), lxm move --mode
//     relay renaming on the way and lxm move --mode push back under the same name: working
//     copies with their snapshots and files;
//   - a snapshot copied to the other server as an instance of its own (lxm copy h0:c/s1 h1:x,
//     lxc copy --mode relay lxm0:c/s2 lxm1:y): its files, no snapshots, the source unchanged;
//   - the target lxmd SIGKILLed halfway through lxm move --mode relay: the client's relay ends,
//     the move fails, the source is intact and starts, the restarted target has nothing.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "lxm/base/file.hpp"
#include "tests/e2e/migration_fixture.hpp"

namespace lxm::test {
namespace {

class MigrationOptions : public MigrationHosts {
protected:
    void SetUp() override {
        MigrationHosts::SetUp();
        if (setup_stopped()) return;
        // The target has a profile and a pool the source does not have.
        auto p = c_[1]->post("/1.0/profiles", json{{"name", "extra"},
                                                   {"config", {{"user.from-profile", "yes"}}},
                                                   {"devices", {{"pd", {{"type", "none"}}}}}});
        ASSERT_TRUE(p) << p.error().message();
        ASSERT_EQ(async(1, "POST", "/1.0/storage-pools", json{{"name", "p2"}, {"driver", "dir"}}), "") << hosts_.log(1);
    }

    // Operations still running on host i (-1: it does not answer), waited for up to `secs` to end.
    int running_after_settling(int i, int secs = 10) {
        int n = -1;
        for (int k = 0; k < secs * 10; ++k) {
            auto r = c_[i]->get("/1.0/operations?recursion=1");
            if (!r) return -1;
            n = r->contains("running") ? static_cast<int>((*r)["running"].size()) : 0;
            if (n == 0) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return n;
    }

    // The source as make_source left it: both snapshots, no temporary pool snapshot, stopped.
    void expect_source_intact(const std::string& n) {
        ASSERT_TRUE(exists(0, n));
        EXPECT_EQ(snapshot_names(0, n), (std::vector<std::string>{"s1", "s2"}));
        EXPECT_EQ(entries(pool(0) + "/containers/" + n + "/snapshots"), (std::vector<std::string>{"s1", "s2"}));
        auto inst = c_[0]->get("/1.0/instances/" + n);
        ASSERT_TRUE(inst);
        EXPECT_EQ((*inst)["status"], "Stopped");
    }
    // Nothing of `n` on the target, and no migration left behind on either side (a source
    // offer that no client cancels ends by itself when nobody connects within 60 s).
    void expect_nothing_on_target(const std::string& n, int source_secs = 10) {
        EXPECT_FALSE(exists(1, n));
        EXPECT_FALSE(base::path_exists(pool(1) + "/containers/" + n));
        EXPECT_FALSE(base::path_exists(pool(1, "p2") + "/containers/" + n));
        EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
        EXPECT_EQ(running_after_settling(0, source_secs), 0) << hosts_.log(0);
        EXPECT_EQ(running_after_settling(1), 0) << hosts_.log(1);
    }
    // A copy on host 1 that has s1, s2 and boots with /root/f = three and its own name (the
    // image's hostname template has the copy trigger).
    void expect_working_copy(const std::string& c) {
        EXPECT_EQ(snapshot_names(1, c), (std::vector<std::string>{"s1", "s2"})) << c;
        ASSERT_EQ(change_state(*c_[1], c, "start"), "") << c << hosts_.log(1);
        EXPECT_EQ(exec_code(*c_[1], c, {"sh", "-c", "test \"$(cat /root/f)\" = three"}), 0) << c;
        EXPECT_EQ(exec_code(*c_[1], c,
                            {"sh", "-c", "test \"$(hostname)\" = " + c + " && test \"$(cat /etc/hostname)\" = " + c}),
                  0)
            << c;
        ASSERT_EQ(change_state(*c_[1], c, "stop", true), "");
    }
};

TEST_F(MigrationOptions, LxmCopyAppliesConfigProfilesDevicesAndPool) {
    std::string n = Lxmd::name("mo");
    make_source(n);
    const std::string c = n + "-c";
    CmdResult r = lxm("copy h0:" + n + " h1:" + c +
                      " -c limits.memory=96MiB -c user.extra=1 -p default -p extra -d pd,user.k=v -s p2 -e");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    auto inst = c_[1]->get("/1.0/instances/" + c);
    ASSERT_TRUE(inst);
    const json& cfg = (*inst)["config"];
    EXPECT_EQ(cfg.value("limits.memory", ""), "96MiB") << inst->dump();
    EXPECT_EQ(cfg.value("user.extra", ""), "1");
    EXPECT_EQ(cfg.value("user.note", ""), "hello");  // the source's own keys stay
    EXPECT_EQ((*inst)["profiles"], json({"default", "extra"}));
    EXPECT_EQ((*inst)["expanded_config"].value("user.from-profile", ""), "yes");
    EXPECT_EQ((*inst)["devices"]["pd"], (json{{"type", "none"}, {"user.k", "v"}}));
    EXPECT_EQ((*inst)["devices"]["root"]["pool"], "p2");
    EXPECT_EQ((*inst)["expanded_devices"]["root"]["pool"], "p2");
    EXPECT_TRUE((*inst)["ephemeral"].get<bool>());
    // The trees are in p2, the snapshots too; nothing in the default pool.
    EXPECT_EQ(entries(pool(1, "p2") + "/containers/" + c + "/snapshots"), (std::vector<std::string>{"s1", "s2"}));
    EXPECT_FALSE(base::path_exists(pool(1) + "/containers/" + c));
    EXPECT_EQ(snapshot_names(1, c), (std::vector<std::string>{"s1", "s2"}));
    // The snapshots keep the source's config (no override).
    auto s1 = c_[1]->get("/1.0/instances/" + c + "/snapshots/s1");
    ASSERT_TRUE(s1);
    EXPECT_EQ((*s1)["config"].value("limits.memory", ""), "") << s1->dump();
    // It runs with the limit.
    ASSERT_EQ(change_state(*c_[1], c, "start"), "") << hosts_.log(1);
    EXPECT_EQ(exec_code(*c_[1], c, {"sh", "-c", "test \"$(cat /root/f)\" = three"}), 0);
    // 96 MiB in the container's memory cgroup (v1 or v2, as the host has it).
    EXPECT_EQ(exec_code(*c_[1], c,
                        {"sh", "-c",
                         "for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do "
                         "[ -r $f ] && { test \"$(cat $f)\" = 100663296; exit $?; }; done; exit 1"}),
              0);
    ASSERT_EQ(change_state(*c_[1], c, "stop", true), "");
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + c), "");
    expect_source_intact(n);

    // A pool the target does not have: refused by the client, nothing started.
    r = lxm("copy h0:" + n + " h1:" + c + " -s nosuchpool");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("Storage pool \"nosuchpool\" not found on the target"), std::string::npos) << r.out;
    expect_nothing_on_target(c);
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(MigrationOptions, LxcCopyAppliesConfigProfilesAndPool) {
    if (sh("command -v lxc").code != 0) GTEST_SKIP() << "lxc (package lxd-client) is not installed";
    for (int i = 0; i < 2; ++i) {
        CmdResult a = lxc("remote add lxm" + std::to_string(i) + " " + token(i));
        ASSERT_EQ(a.code, 0) << a.out << hosts_.log(i);
    }
    std::string n = Lxmd::name("mol");
    make_source(n);
    const std::string c = n + "-l";
    CmdResult r = lxc("copy lxm0:" + n + " lxm1:" + c + " -c limits.memory=80MiB -p default -p extra -s p2");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    auto inst = c_[1]->get("/1.0/instances/" + c);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["config"].value("limits.memory", ""), "80MiB") << inst->dump();
    EXPECT_EQ((*inst)["config"].value("user.note", ""), "hello");
    EXPECT_EQ((*inst)["profiles"], json({"default", "extra"}));
    EXPECT_EQ((*inst)["expanded_devices"]["root"]["pool"], "p2");
    EXPECT_FALSE((*inst)["ephemeral"].get<bool>());
    EXPECT_EQ(entries(pool(1, "p2") + "/containers/" + c + "/snapshots"), (std::vector<std::string>{"s1", "s2"}));
    r = lxc("config get lxm1:" + c + " limits.memory");
    EXPECT_EQ(r.out, "80MiB\n") << r.out;
    expect_working_copy(c);

    // lxc's -s naming a pool the target lacks: as LXD, the root goes where the profiles put it.
    r = lxc("copy lxm0:" + n + " lxm1:" + n + "-f -s nosuchpool --instance-only");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(1);
    auto fb = c_[1]->get("/1.0/instances/" + n + "-f");
    ASSERT_TRUE(fb);
    EXPECT_EQ((*fb)["devices"]["root"]["pool"], "default") << fb->dump();
    EXPECT_TRUE(base::path_exists(pool(1) + "/containers/" + n + "-f"));
    EXPECT_EQ(snapshot_names(1, n + "-f"), std::vector<std::string>{});
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + n + "-f"), "");

    // lxc copy of a snapshot to the other server (relay: lxc connects to both operations).
    r = lxc("copy --mode relay lxm0:" + n + "/s2 lxm1:" + n + "-ls");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    EXPECT_EQ(snapshot_names(1, n + "-ls"), std::vector<std::string>{});
    ASSERT_EQ(change_state(*c_[1], n + "-ls", "start"), "") << hosts_.log(1);
    EXPECT_EQ(exec_code(*c_[1], n + "-ls", {"sh", "-c", "test \"$(cat /root/f)\" = two"}), 0);
    ASSERT_EQ(change_state(*c_[1], n + "-ls", "stop", true), "");
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + n + "-ls"), "");

    // An unknown profile: lxc shows the target's error; nothing is made or left.
    r = lxc("copy lxm0:" + n + " lxm1:" + n + "-x -p nosuch");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("Profile \"nosuch\" not found"), std::string::npos) << r.out;
    expect_nothing_on_target(n + "-x", 75);
    expect_source_intact(n);
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + c), "");
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(MigrationOptions, RefusedRequestLeavesNothingInEveryMode) {
    std::string n = Lxmd::name("mou");
    make_source(n);
    const std::string c = n + "-u";
    for (const char* mode : {"pull", "push", "relay"}) {
        CmdResult r = lxm(std::string("copy --mode ") + mode + " h0:" + n + " h1:" + c + " -p default -p nosuch");
        EXPECT_NE(r.code, 0) << mode;
        EXPECT_NE(r.out.find("Profile \"nosuch\" not found"), std::string::npos) << mode << ": " << r.out;
        expect_nothing_on_target(c);
        expect_source_intact(n);
        r = lxm(std::string("move --mode ") + mode + " h0:" + n + " h1:" + c + " -c nosuch.key=1");
        EXPECT_NE(r.code, 0) << mode;
        EXPECT_NE(r.out.find("Unknown config key \"nosuch.key\""), std::string::npos) << mode << ": " << r.out;
        expect_nothing_on_target(c);
        expect_source_intact(n);
    }
    // A device override naming no device of the instance or of the target's profiles.
    CmdResult r = lxm("copy h0:" + n + " h1:" + c + " -d nodev,k=v");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("Cannot override config for device \"nodev\""), std::string::npos) << r.out;
    expect_nothing_on_target(c);
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(MigrationOptions, PushAndRelayModesAndMovesWithRename) {
    std::string n = Lxmd::name("mom");
    make_source(n);
    // push: the target offers the websockets, the source dials them.
    CmdResult r = lxm("copy --mode push h0:" + n + " h1:" + n + "-push");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    expect_working_copy(n + "-push");
    // relay: this client copies the frames; the source is reached over its unix socket.
    r = lxm("copy --mode relay " + n + " h1:" + n + "-relay --stateless");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    expect_working_copy(n + "-relay");
    EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
    expect_source_intact(n);
    EXPECT_EQ(running_after_settling(0), 0);
    EXPECT_EQ(running_after_settling(1), 0);

    // A snapshot becomes an instance of its own on the other server (alone, with its files).
    r = lxm("copy h0:" + n + "/s1 h1:" + n + "-snap -c user.s=1");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    EXPECT_EQ(snapshot_names(1, n + "-snap"), std::vector<std::string>{});
    auto si = c_[1]->get("/1.0/instances/" + n + "-snap");
    ASSERT_TRUE(si);
    EXPECT_EQ((*si)["config"].value("user.s", ""), "1");
    ASSERT_EQ(change_state(*c_[1], n + "-snap", "start"), "") << hosts_.log(1);
    EXPECT_EQ(exec_code(*c_[1], n + "-snap", {"sh", "-c", "test \"$(cat /root/f)\" = one"}), 0);
    ASSERT_EQ(change_state(*c_[1], n + "-snap", "stop", true), "");
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + n + "-snap"), "");
    expect_source_intact(n);

    // move renaming on the way (relay), then back under the same name (push).
    const std::string m = n + "-moved";
    r = lxm("move --mode relay h0:" + n + " h1:" + m);
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    EXPECT_FALSE(exists(0, n));
    EXPECT_FALSE(base::path_exists(pool(0) + "/containers/" + n));
    ASSERT_TRUE(exists(1, m));
    expect_working_copy(m);
    r = lxm("move --mode push h1:" + m + " h0:");
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    EXPECT_FALSE(exists(1, m));
    ASSERT_TRUE(exists(0, m));
    EXPECT_EQ(snapshot_names(0, m), (std::vector<std::string>{"s1", "s2"}));
    auto inst = c_[0]->get("/1.0/instances/" + m);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["config"].value("user.note", ""), "hello");
    ASSERT_EQ(change_state(*c_[0], m, "start"), "") << hosts_.log(0);
    EXPECT_EQ(exec_code(*c_[0], m, {"sh", "-c", "test \"$(cat /root/f)\" = three"}), 0);
    ASSERT_EQ(change_state(*c_[0], m, "stop", true), "");
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + m), "");
    for (const std::string& x : {n + "-push", n + "-relay"}) EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + x), "");
}

TEST_F(MigrationOptions, KilledTargetDuringRelayMoveLeavesSourceIntact) {
    std::string n = Lxmd::name("mok");
    make_source(n, 300);
    // lxm move --mode relay in the background; the target is killed once it is receiving.
    pid_t mover = lxm_background("move --mode relay h0:" + n + " h1:", "move.out");
    EXPECT_TRUE(wait_receiving()) << hosts_.log(1);
    hosts_.stop(1, SIGKILL);
    auto t0 = std::chrono::steady_clock::now();
    int st = 0;
    while (::waitpid(mover, &st, 0) < 0 && errno == EINTR) {
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string out = base::read_file(conf_.path() + "/move.out").value_or("");
    EXPECT_FALSE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
    std::printf("relay move failed %.1f s after the target was killed: %s\n", secs, out.c_str());

    // The source: as it was, no migration left running, and it starts with its data.
    expect_source_intact(n);
    EXPECT_EQ(running_after_settling(0), 0) << hosts_.log(0);
    ASSERT_EQ(change_state(*c_[0], n, "start"), "") << hosts_.log(0);
    EXPECT_EQ(exec_code(*c_[0], n, {"sh", "-c", "test \"$(cat /root/f)\" = three && test -s /root/big"}), 0);
    ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");
    // The target, restarted: nothing of it.
    std::string why;
    ASSERT_TRUE(hosts_.start(1, &why)) << why;
    auto c1 = client::Client::connect_unix(hosts_.host(1).socket());
    ASSERT_TRUE(c1);
    c_[1].emplace(std::move(*c1));
    expect_nothing_on_target(n);
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

}  // namespace
}  // namespace lxm::test
