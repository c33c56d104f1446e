// Crash safety of migrations between two lxmd hosts (tests/support/two_hosts.hpp), driven by
// the real `lxm` CLI with remotes added by join tokens over HTTPS:
//   - the target lxmd SIGKILLed in the middle of `lxm copy --refresh` (after it added one of
//     the new snapshots and while it adds the next): restarted, it puts the instance back as it
//     was before the refresh (files, snapshot list, no "migration refresh" pool snapshot, no
//     half-made snapshot) and the instance starts;
//   - the source lxmd SIGKILLed while it sends: restarted, it drops its temporary pool snapshot
//     ("migration <op>") and keeps the one of a backup; the instance is intact and starts; the
//     target keeps nothing;
//   - a start of the target instance during a refresh waits for the refresh to commit and then
//     starts the refreshed instance;
//   - a delete of the source during a send waits for the stream to end: the copy is complete;
//   - a rename of the source during a send waits too, and no temporary snapshot goes with it.
// The tests synchronise on lxmd's log lines and on the target's tmp/, never on sleeps.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "lxm/base/file.hpp"
#include "tests/e2e/migration_fixture.hpp"

namespace lxm::test {
namespace {

class MigrationCrash : public MigrationHosts {
protected:
    // Reap a background lxm: true when it exited 0.
    bool reap(pid_t p) {
        int st = 0;
        while (::waitpid(p, &st, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    std::string bg_out() { return base::read_file(conf_.path() + "/bg.out").value_or(""); }

    std::vector<std::string> pool_snapshots(int i, const std::string& n) {
        return entries(pool(i) + "/containers/" + n + "/snapshots");
    }
    // Wait (polling every 5 ms, at most `secs`) until host i's log holds `needle` after byte `from`.
    bool wait_log(int i, const std::string& needle, size_t from, int secs = 120) {
        auto end = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
        while (std::chrono::steady_clock::now() < end) {
            if (hosts_.log(i).find(needle, from) != std::string::npos) return true;
            if (hosts_.host(i).pid <= 0) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return false;
    }
    size_t log_size(int i) { return hosts_.log(i).size(); }
    // Wait (polling every 2 ms, at most `secs`) until host i's pool has the snapshot `snap` of n.
    bool wait_pool_snapshot(int i, const std::string& n, const std::string& snap, int secs = 120) {
        auto end = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
        std::string p = pool(i) + "/containers/" + n + "/snapshots/" + snap;
        while (std::chrono::steady_clock::now() < end) {
            if (base::path_exists(p)) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return false;
    }
    // After a first copy to host 1: the source moves on with s3, s4, s5, each holding `mb` more
    // MiB of random data (so that the target's refresh takes a while on each of them), and a
    // root of /root/f = five without the big files.
    void grow_source(const std::string& n, int mb) {
        ASSERT_EQ(change_state(*c_[0], n, "start"), "");
        for (int k = 3; k <= 5; ++k) {
            std::string cmd = "dd if=/dev/urandom of=/root/big" + std::to_string(k) + " bs=1M count=" +
                              std::to_string(mb) + " 2>/dev/null && echo s" + std::to_string(k) + " > /root/f";
            ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", cmd}), 0);
            ASSERT_EQ(async(0, "POST", "/1.0/instances/" + n + "/snapshots", json{{"name", "s" + std::to_string(k)}}),
                      "");
        }
        ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", "rm /root/big* && echo five > /root/f"}), 0);
        ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");
    }
    // The target instance's /root/f, read by starting it (then stopped again).
    std::string target_file(const std::string& n) {
        if (auto e = change_state(*c_[1], n, "start"); !e.empty()) return "start failed: " + e;
        std::string out;
        for (const char* v : {"one", "two", "three", "s3", "s4", "s5", "five"})
            if (exec_code(*c_[1], n, {"sh", "-c", std::string("test \"$(cat /root/f)\" = ") + v}) == 0) out = v;
        if (exec_code(*c_[1], n, {"sh", "-c", "ls /root/big* >/dev/null 2>&1"}) == 0) out += "+big";
        (void)change_state(*c_[1], n, "stop", true);
        return out;
    }
};

TEST_F(MigrationCrash, KilledTargetMidRefreshIsPutBackAtRestart) {
    std::string n = Lxmd::name("mcr");
    make_source(n);
    CmdResult r = lxm_on(0, "copy h0:" + n + " h1:" + n);
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    grow_source(n, 64);
    if (HasFatalFailure()) return;
    ASSERT_EQ(snapshot_names(1, n), (std::vector<std::string>{"s1", "s2"}));

    // The refresh in the background; the target is killed once its pool holds s3 (s4 and s5
    // are still to come).
    size_t from = log_size(1);
    pid_t copier = lxm_background("copy --refresh h0:" + n + " h1:" + n);
    bool mid = wait_pool_snapshot(1, n, "s3");
    hosts_.stop(1, SIGKILL);
    bool ok = reap(copier);
    ASSERT_TRUE(mid) << bg_out() << hosts_.log(1);
    std::string log1 = hosts_.log(1);
    ASSERT_EQ(log1.find(" new snapshots and the root", from), std::string::npos)
        << "the kill came after the refresh committed: the test did not hit the window\n" << log1;
    EXPECT_FALSE(ok) << bg_out();
    // What the kill left: the safety snapshot and s3 (its row marked creating).
    std::vector<std::string> left = pool_snapshots(1, n);
    EXPECT_NE(std::find(left.begin(), left.end(), "migration refresh"), left.end()) << ::testing::PrintToString(left);
    EXPECT_NE(std::find(left.begin(), left.end(), "s3"), left.end()) << ::testing::PrintToString(left);

    // Restarted, the target puts the instance back as it was before the refresh.
    from = log_size(1);
    restart(1);
    if (HasFatalFailure()) return;
    log1 = hosts_.log(1).substr(from);
    EXPECT_NE(log1.find("a migration refresh was interrupted"), std::string::npos) << log1;
    EXPECT_NE(log1.find("the interrupted refresh was undone"), std::string::npos) << log1;
    EXPECT_EQ(snapshot_names(1, n), (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(pool_snapshots(1, n), (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
    auto inst = c_[1]->get("/1.0/instances/" + n);
    ASSERT_TRUE(inst);
    EXPECT_FALSE((*inst)["config"].contains("volatile.lxm.refreshing")) << inst->dump();
    EXPECT_EQ(target_file(n), "three") << hosts_.log(1);
    ASSERT_EQ(async(1, "PUT", "/1.0/instances/" + n, json{{"restore", "s1"}}), "");
    EXPECT_EQ(target_file(n), "one");

    // The source was never changed.
    EXPECT_EQ(snapshot_names(0, n), (std::vector<std::string>{"s1", "s2", "s3", "s4", "s5"}));
    EXPECT_EQ(pool_snapshots(0, n), (std::vector<std::string>{"s1", "s2", "s3", "s4", "s5"}));
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + n), "");
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(MigrationCrash, KilledSourceMidSendLeavesNoTemporarySnapshot) {
    std::string n = Lxmd::name("mcs");
    make_source(n, 300);
    // A backup: its pool snapshot ("backup b0") is not temporary and must survive the restart.
    ASSERT_EQ(async(0, "POST", "/1.0/instances/" + n + "/backups", json{{"name", "b0"}}), "");
    pid_t copier = lxm_background("copy h0:" + n + " h1:" + n);
    bool receiving = wait_receiving(120);
    // The source's temporary pool snapshot exists while it sends.
    std::vector<std::string> during = pool_snapshots(0, n);
    hosts_.stop(0, SIGKILL);
    bool ok = reap(copier);
    ASSERT_TRUE(receiving) << bg_out() << hosts_.log(1);
    EXPECT_FALSE(ok) << bg_out();
    ASSERT_EQ(during.size(), 4u) << ::testing::PrintToString(during);
    EXPECT_EQ(during[0], "backup b0");
    const std::string temp = during[1];
    EXPECT_TRUE(temp.starts_with("migration ")) << ::testing::PrintToString(during);
    ASSERT_EQ(pool_snapshots(0, n), during);  // a kill leaves it

    // Restarted, the source drops it (not the backup's); the instance is as it was and starts.
    size_t from = log_size(0);
    restart(0);
    if (HasFatalFailure()) return;
    std::string log0 = hosts_.log(0).substr(from);
    EXPECT_NE(log0.find("dropped the pool snapshot \"" + temp + "\""), std::string::npos) << log0;
    EXPECT_EQ(log0.find("dropped the pool snapshot \"backup b0\""), std::string::npos) << log0;
    EXPECT_EQ(pool_snapshots(0, n), (std::vector<std::string>{"backup b0", "s1", "s2"}));
    EXPECT_EQ(snapshot_names(0, n), (std::vector<std::string>{"s1", "s2"}));
    auto backups = c_[0]->get("/1.0/instances/" + n + "/backups");
    ASSERT_TRUE(backups);
    EXPECT_EQ(backups->size(), 1u) << backups->dump();
    ASSERT_EQ(change_state(*c_[0], n, "start"), "") << hosts_.log(0);
    EXPECT_EQ(exec_code(*c_[0], n, {"sh", "-c", "test \"$(cat /root/f)\" = three && test -s /root/big"}), 0);
    ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");

    // The target gave the copy up and keeps nothing of it.
    auto t0 = std::chrono::steady_clock::now();
    while (running_migrations(1) != 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60))
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(running_migrations(1), 0);
    EXPECT_FALSE(exists(1, n));
    EXPECT_FALSE(base::path_exists(pool(1) + "/containers/" + n));
    EXPECT_EQ(entries(pool(1) + "/tmp"), std::vector<std::string>{});
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(MigrationCrash, StartDuringRefreshWaitsForItsCommit) {
    std::string n = Lxmd::name("mcw");
    make_source(n);
    CmdResult r = lxm_on(0, "copy h0:" + n + " h1:" + n);
    ASSERT_EQ(r.code, 0) << r.out << hosts_.log(0) << hosts_.log(1);
    grow_source(n, 48);
    if (HasFatalFailure()) return;

    size_t from = log_size(1);
    pid_t copier = lxm_background("copy --refresh h0:" + n + " h1:" + n);
    bool mid = wait_pool_snapshot(1, n, "migration refresh");  // the refresh began changing the volume
    // A start of the refreshed instance now: it waits for the refresh, then starts its new content.
    std::string started = change_state(*c_[1], n, "start");
    std::string log1 = hosts_.log(1);
    bool ok = reap(copier);
    ASSERT_TRUE(mid) << bg_out() << log1;
    EXPECT_EQ(started, "") << log1;
    EXPECT_NE(log1.find("3 new snapshots and the root", from), std::string::npos)
        << "the start finished before the refresh committed\n" << log1;
    EXPECT_TRUE(ok) << bg_out() << hosts_.log(0) << log1;
    EXPECT_EQ(exec_code(*c_[1], n, {"sh", "-c", "test \"$(cat /root/f)\" = five && ! ls /root/big* 2>/dev/null"}), 0);
    ASSERT_EQ(change_state(*c_[1], n, "stop", true), "");
    EXPECT_EQ(snapshot_names(1, n), (std::vector<std::string>{"s1", "s2", "s3", "s4", "s5"}));
    EXPECT_EQ(pool_snapshots(1, n), (std::vector<std::string>{"s1", "s2", "s3", "s4", "s5"}));
    ASSERT_EQ(async(1, "PUT", "/1.0/instances/" + n, json{{"restore", "s4"}}), "");
    EXPECT_EQ(target_file(n), "s4+big");
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + n), "");
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(MigrationCrash, DeleteOfTheSourceDuringASendWaitsForTheStream) {
    std::string n = Lxmd::name("mcd");
    make_source(n, 200);
    // How many files the source has (its system dirs and /root), to compare with the copy.
    const std::string count = "find /bin /sbin /usr /lib /root -xdev | wc -l";
    ASSERT_EQ(change_state(*c_[0], n, "start"), "");
    ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", "n=$(" + count + "); echo $n > /root/count"}), 0);
    ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");
    pid_t copier = lxm_background("copy h0:" + n + " h1:" + n);
    bool receiving = wait_receiving(120);
    std::string deleted = async(0, "DELETE", "/1.0/instances/" + n);
    bool ok = reap(copier);
    ASSERT_TRUE(receiving) << bg_out() << hosts_.log(1);
    // The delete waited for the stream: the copy is whole, then the source went.
    EXPECT_EQ(deleted, "") << hosts_.log(0);
    EXPECT_FALSE(exists(0, n));
    EXPECT_TRUE(ok) << bg_out() << hosts_.log(0) << hosts_.log(1);
    ASSERT_TRUE(exists(1, n)) << bg_out();
    EXPECT_EQ(snapshot_names(1, n), (std::vector<std::string>{"s1", "s2"}));
    ASSERT_EQ(change_state(*c_[1], n, "start"), "") << hosts_.log(1);
    EXPECT_EQ(exec_code(*c_[1], n,
                        {"sh", "-c", "test \"$(cat /root/f)\" = three && test $(wc -c < /root/big) -eq 209715200"}),
              0);
    EXPECT_EQ(exec_code(*c_[1], n, {"sh", "-c", "test $(" + count + ") -eq $(($(cat /root/count) + 1))"}), 0)
        << "the copy lacks files of the source";
    ASSERT_EQ(change_state(*c_[1], n, "stop", true), "");
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + n), "");
}

TEST_F(MigrationCrash, RenameOfTheSourceDuringASendWaitsAndLeavesNoTemporarySnapshot) {
    std::string n = Lxmd::name("mcn");
    make_source(n, 200);
    pid_t copier = lxm_background("copy h0:" + n + " h1:" + n);
    bool receiving = wait_receiving(120);
    // The rename waits for the stream (the source's lock): the temporary snapshot is dropped
    // under the old name before the instance moves, so none travels with it.
    std::string renamed = async(0, "POST", "/1.0/instances/" + n, json{{"name", n + "-r"}});
    bool ok = reap(copier);
    ASSERT_TRUE(receiving) << bg_out() << hosts_.log(1);
    EXPECT_EQ(renamed, "") << hosts_.log(0);
    EXPECT_TRUE(ok) << bg_out() << hosts_.log(0) << hosts_.log(1);
    EXPECT_EQ(pool_snapshots(0, n + "-r"), (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(snapshot_names(0, n + "-r"), (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(snapshot_names(1, n), (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(async(1, "DELETE", "/1.0/instances/" + n), "");
    EXPECT_EQ(async(0, "DELETE", "/1.0/instances/" + n + "-r"), "");
}

}  // namespace
}  // namespace lxm::test
