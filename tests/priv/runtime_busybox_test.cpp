// The runtime against the real kernel with the busybox rootfs: unprivileged
// boot, id shifting, confinement seen from inside, stop, failure cleanup.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "lxm/base/file.hpp"
#include "tests/support/container_fixture.hpp"

using namespace lxm;
using lxm::test::TestContainer;

namespace {

std::map<std::string, std::string> kv(const std::string& text) {
    std::map<std::string, std::string> m;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq != std::string::npos) m[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return m;
}

uid_t proc_uid(pid_t pid) {
    struct stat st;
    if (::stat(("/proc/" + std::to_string(pid)).c_str(), &st) != 0) return static_cast<uid_t>(-1);
    return st.st_uid;
}

bool any_cgroup_dir_exists(const TestContainer& c, const std::string& rel) {
    for (const auto& d : c.cgroup_dirs(rel))
        if (std::filesystem::exists(d)) return true;
    return false;
}

#define REQUIRE_CONTAINER(c)                                                    \
    LXM_REQUIRE_ROOT();                                                         \
    if (!(c).available()) GTEST_SKIP() << (c).unavailable_reason()

}  // namespace

TEST(RuntimeBusybox, BootsUnprivilegedWithShiftedIds) {
    TestContainer c("busybox", "bb1");
    REQUIRE_CONTAINER(c);
    ASSERT_TRUE(c.install_probe());
    auto l = c.start();
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(proc_uid(l->init_pid), c.host_base());  // init runs as the allocated host uid

    auto id = c.exec({"id", "-u"});
    ASSERT_TRUE(id) << id.error().message();
    EXPECT_EQ(id->code, 0);
    EXPECT_EQ(id->out, "0\n");

    auto touch = c.exec({"touch", "/root/made-inside"});
    ASSERT_TRUE(touch && touch->code == 0);
    struct stat st;
    ASSERT_EQ(::stat((c.spec().upper_dir + "/root/made-inside").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, c.host_base());  // shifted on disk
    EXPECT_EQ(st.st_gid, c.host_base());

    // Host pids are invisible: only the container's own processes, init is 1.
    auto ps = c.exec({"sh", "-c", "ls -d /proc/[0-9]* | wc -l; cat /proc/1/comm"});
    ASSERT_TRUE(ps && ps->code == 0);
    int count = std::stoi(ps->out);
    EXPECT_LT(count, 10) << ps->out;
    EXPECT_NE(ps->out.find("init"), std::string::npos);
}

TEST(RuntimeBusybox, ConfinementSeenFromInside) {
    TestContainer c("busybox", "bb2");
    REQUIRE_CONTAINER(c);
    ASSERT_TRUE(c.install_probe());
    ASSERT_TRUE(c.start());

    auto sc = c.exec({"/usr/local/bin/lxm-probe", "syscalls"});
    ASSERT_TRUE(sc && sc->code == 0) << (sc ? sc->err : sc.error().message());
    auto m = kv(sc->out);
    EXPECT_EQ(m["open_by_handle_at"], "EPERM");
    EXPECT_EQ(m["init_module"], "EPERM");
    EXPECT_EQ(m["kexec_load"], "EPERM");

    auto st = c.exec({"/usr/local/bin/lxm-probe", "status"});
    ASSERT_TRUE(st && st->code == 0);
    auto s = kv(st->out);
    EXPECT_EQ(s["init_Seccomp"], "2");
    EXPECT_EQ(s["self_Seccomp"], "2");
    EXPECT_EQ(s["uid"], "0");

    auto mk = c.exec({"/usr/local/bin/lxm-probe", "mknod", "/tmp"});
    ASSERT_TRUE(mk && mk->code == 0);
    auto k = kv(mk->out);
    EXPECT_TRUE(k["mknod"] != "OK" || k["open"] != "OK") << mk->out;

    // Hostname changes stay inside.
    char before[256] = {0};
    ::gethostname(before, sizeof before - 1);
    auto hn = c.exec({"sh", "-c", "hostname changed-inside && hostname"});
    ASSERT_TRUE(hn && hn->code == 0);
    EXPECT_EQ(hn->out, "changed-inside\n");
    char after[256] = {0};
    ::gethostname(after, sizeof after - 1);
    EXPECT_STREQ(before, after);

    // A network change inside does not touch the host: bring lo up, add an address.
    auto ip = c.exec({"sh", "-c", "ip link set lo up && ip addr add 10.254.254.1/32 dev lo && ip -o addr"});
    ASSERT_TRUE(ip && ip->code == 0) << (ip ? ip->err : "");
    EXPECT_NE(ip->out.find("10.254.254.1"), std::string::npos);
    std::string host_addrs;
    FILE* f = ::popen("ip -o addr", "r");
    char buf[512];
    while (f && fgets(buf, sizeof buf, f)) host_addrs += buf;
    if (f) ::pclose(f);
    EXPECT_EQ(host_addrs.find("10.254.254.1"), std::string::npos);
}

TEST(RuntimeBusybox, ExecExitCodesAndSignals) {
    TestContainer c("busybox", "bb3");
    REQUIRE_CONTAINER(c);
    ASSERT_TRUE(c.start());
    auto r = c.exec({"sh", "-c", "exit 7"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 7);
    r = c.exec({"sh", "-c", "kill -9 $$"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 128 + 9);
    r = c.exec({"no-such-command"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 127);
}

TEST(RuntimeBusybox, GracefulStopWithItsOwnSignal) {
    TestContainer c("busybox", "bb4");
    REQUIRE_CONTAINER(c);
    auto l = c.start();
    ASSERT_TRUE(l) << l.error().message();
    auto code = c.stop(10, false);
    ASSERT_TRUE(code) << code.error().message();
    // busybox init powers off on SIGUSR2 (exit, not a kill after the timeout).
    EXPECT_TRUE(c.wait_monitor_gone(5000));
    EXPECT_NE(::kill(l->init_pid, 0), 0);
    EXPECT_FALSE(any_cgroup_dir_exists(c, "bb4"));
    EXPECT_FALSE(any_cgroup_dir_exists(c, "bb4.monitor"));
}

TEST(RuntimeBusybox, ForceStopLeavesNoProcess) {
    TestContainer c("busybox", "bb5");
    REQUIRE_CONTAINER(c);
    auto l = c.start();
    ASSERT_TRUE(l);
    auto bg = c.exec({"sh", "-c", "sleep 1000 >/dev/null 2>&1 & sleep 1000 >/dev/null 2>&1 & echo started"});
    ASSERT_TRUE(bg && bg->code == 0);
    // Three processes at least: init, its respawned sleeper, the two background sleeps.
    auto cl = c.client();
    ASSERT_TRUE(cl);
    auto state = cl->state();
    ASSERT_TRUE(state);
    EXPECT_GE((*state)["pids"].get<int>(), 4) << state->dump();
    ASSERT_TRUE(c.stop(0, true));
    EXPECT_TRUE(c.wait_monitor_gone(5000));
    EXPECT_NE(::kill(l->init_pid, 0), 0);
    EXPECT_FALSE(any_cgroup_dir_exists(c, "bb5"));
}

TEST(RuntimeBusybox, SurvivesTheDeathOfWhoeverStartedIt) {
    TestContainer c("busybox", "bb6");
    REQUIRE_CONTAINER(c);
    // Start from a child process, then kill that child.
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    pid_t launcher = ::fork();
    if (launcher == 0) {
        ::close(p[0]);
        auto r = c.start();
        char ok = r ? '1' : '0';
        (void)!::write(p[1], &ok, 1);
        ::pause();
        ::_exit(0);
    }
    ::close(p[1]);
    char ok = 0;
    ASSERT_EQ(::read(p[0], &ok, 1), 1);
    ::close(p[0]);
    ::kill(launcher, SIGKILL);
    int st;
    ::waitpid(launcher, &st, 0);
    ASSERT_EQ(ok, '1');
    auto r = c.exec({"true"});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->code, 0);
    auto cl = c.client();
    ASSERT_TRUE(cl);
    auto state = cl->state();
    ASSERT_TRUE(state);
    EXPECT_EQ((*state)["status"], "Running");
    // The fixture launched from another process: stop through the socket.
    EXPECT_TRUE(c.stop(0, true));
    c.wait_monitor_gone(5000);
}

TEST(RuntimeBusybox, MissingInitFailsCleanly) {
    TestContainer c("busybox", "bb7");
    REQUIRE_CONTAINER(c);
    c.spec().init = {"/sbin/no-such-init"};
    auto l = c.start();
    ASSERT_FALSE(l);
    EXPECT_NE(l.error().message().find("/sbin/no-such-init"), std::string::npos) << l.error().message();
    EXPECT_FALSE(any_cgroup_dir_exists(c, "bb7"));
    EXPECT_FALSE(any_cgroup_dir_exists(c, "bb7.monitor"));
    EXPECT_FALSE(lxm::base::path_exists(c.spec().monitor_socket()));
}

TEST(RuntimeBusybox, BrokenRootfsFailsCleanly) {
    TestContainer c("busybox", "bb8");
    REQUIRE_CONTAINER(c);
    c.spec().rootfs = c.dir() + "/no-such-rootfs";
    auto l = c.start();
    ASSERT_FALSE(l);
    EXPECT_NE(l.error().message().find("rootfs"), std::string::npos) << l.error().message();
    EXPECT_FALSE(any_cgroup_dir_exists(c, "bb8"));
    EXPECT_FALSE(any_cgroup_dir_exists(c, "bb8.monitor"));
}

TEST(RuntimeBusybox, FreezeAndThaw) {
    TestContainer c("busybox", "bb9");
    REQUIRE_CONTAINER(c);
    ASSERT_TRUE(c.start());
    auto cl = c.client();
    ASSERT_TRUE(cl);
    ASSERT_TRUE(cl->freeze());
    EXPECT_EQ((*cl->state())["status"], "Frozen");
    ASSERT_TRUE(cl->thaw());
    EXPECT_EQ((*cl->state())["status"], "Running");
    auto r = c.exec({"true"});
    ASSERT_TRUE(r && r->code == 0);
}

TEST(RuntimeBusybox, PrivilegedOnlyOnRequestAndStillConfined) {
    TestContainer c("busybox", "bb10");
    REQUIRE_CONTAINER(c);
    c.spec().privileged = true;
    c.spec().idmap = {};
    ASSERT_TRUE(c.install_probe());
    auto l = c.start();
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(proc_uid(l->init_pid), 0u);  // real root: only because it was asked for
    auto st = c.exec({"/usr/local/bin/lxm-probe", "status"});
    ASSERT_TRUE(st && st->code == 0);
    auto s = kv(st->out);
    EXPECT_EQ(s["init_Seccomp"], "2");
    // CAP_SYS_MODULE (16) and CAP_SYS_TIME (25) are not in the bounding set.
    uint64_t bnd = std::stoull(s["init_CapBnd"], nullptr, 16);
    EXPECT_EQ(bnd & (1ull << 16), 0u);
    EXPECT_EQ(bnd & (1ull << 25), 0u);
    EXPECT_NE(bnd & (1ull << 21), 0u);  // CAP_SYS_ADMIN stays: systemd needs it
    auto sc = c.exec({"/usr/local/bin/lxm-probe", "syscalls"});
    ASSERT_TRUE(sc && sc->code == 0);
    EXPECT_EQ(kv(sc->out)["init_module"], "EPERM");
}

TEST(RuntimeBusybox, CgroupLimitsReachTheKernel) {
    TestContainer c("busybox", "bb11");
    REQUIRE_CONTAINER(c);
    c.spec().limits.memory_max = 256ll << 20;
    c.spec().limits.pids_max = 64;
    ASSERT_TRUE(c.start());
    std::string mem, pids;
    for (const auto& d : c.cgroup_dirs("bb11")) {
        if (d.find("/memory/") != std::string::npos) mem = d;
        if (d.find("/pids/") != std::string::npos) pids = d;
    }
    if (mem.empty() || pids.empty()) GTEST_SKIP() << "no v1 memory/pids hierarchy on this host";
    EXPECT_EQ(*lxm::base::read_file(mem + "/memory.limit_in_bytes"), std::to_string(256ll << 20) + "\n");
    EXPECT_EQ(*lxm::base::read_file(pids + "/pids.max"), "64\n");
    // Inside, the container sees its own cgroup as the root of the hierarchy.
    auto r = c.exec({"cat", "/sys/fs/cgroup/pids/pids.max"});
    ASSERT_TRUE(r && r->code == 0) << (r ? r->err : r.error().message());
    EXPECT_EQ(r->out, "64\n");
}

TEST(RuntimeBusybox, StepFailingMidStartLeavesNothing) {
    TestContainer c("busybox", "bb12");
    REQUIRE_CONTAINER(c);
    // The network step runs after clone, maps and cgroup: a missing host link fails it there.
    c.spec().net_links = {"lxmt-nolink0=eth0"};
    auto l = c.start();
    ASSERT_FALSE(l);
    EXPECT_NE(l.error().message().find("lxmt-nolink0"), std::string::npos) << l.error().message();
    EXPECT_FALSE(any_cgroup_dir_exists(c, "bb12"));
    EXPECT_FALSE(any_cgroup_dir_exists(c, "bb12.monitor"));
    EXPECT_FALSE(lxm::base::path_exists(c.spec().monitor_socket()));
    EXPECT_FALSE(c.monitor_alive());
    // No process of the container is left: nothing runs with its host uid.
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        std::string n = e.path().filename();
        if (n.find_first_not_of("0123456789") != std::string::npos) continue;
        EXPECT_NE(proc_uid(std::stoi(n)), c.host_base()) << "pid " << n;
    }
}

