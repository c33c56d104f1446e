// The cgroup drivers against the real kernel of this host (v1 hierarchies and, in hybrid mode, the
// controller-less cgroup2 at /sys/fs/cgroup/unified, which the v2 driver uses as its root).
// Every cgroup made here is named lxmt-cg<pid>-<n>; the fixture kills the processes it started and
// removes its cgroups even when a test fails.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <random>

#include "lxm/base/file.hpp"
#include "lxm/runtime/cgroup.hpp"
#include "lxm/runtime/cgroup_device_bpf.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::runtime;
using lxm::test::TempDir;
using std::chrono::milliseconds;

namespace {

const std::string kCgroupRoot = "/sys/fs/cgroup";

std::string prefix() { return "lxmt-cg" + std::to_string(::getpid()) + "-"; }

std::string read_trim(const std::string& path) {
    auto r = lxm::base::read_file(path);
    if (!r) return "<" + r.error().message() + ">";
    std::string s = *r;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

char proc_state(pid_t pid) {
    std::string stat = read_trim("/proc/" + std::to_string(pid) + "/stat");
    auto paren = stat.rfind(')');
    return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// Every directory of a cgroup name under the cgroup root: /sys/fs/cgroup/*/<name>.
std::vector<std::string> dirs_named(const std::string& name_prefix) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& h : std::filesystem::directory_iterator(kCgroupRoot, ec)) {
        std::error_code ec2;
        for (const auto& c : std::filesystem::directory_iterator(h.path(), ec2))
            if (c.is_directory() && c.path().filename().string().starts_with(name_prefix))
                out.push_back(c.path().string());
    }
    return out;
}

// rmdir a cgroup tree, deepest first (test cleanup only; ignores errors).
void rmdir_tree(const std::string& dir) {
    std::error_code ec;
    for (const auto& c : std::filesystem::directory_iterator(dir, ec))
        if (c.is_directory()) rmdir_tree(c.path().string());
    ::rmdir(dir.c_str());
}

class CgroupPriv : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        auto l = CgroupLayout::detect(kCgroupRoot);
        if (!l) GTEST_SKIP() << "no cgroups: " << l.error().message();
        host_ = *l;
        static std::atomic<int> n{0};
        name_ = prefix() + std::to_string(n++) + "-" + std::to_string(std::random_device{}() % 100000);
    }

    void TearDown() override {
        if (name_.empty()) return;  // skipped before naming anything: nothing to clean
        for (pid_t pid : children_) ::kill(pid, SIGKILL);
        // Frozen processes do not die: thaw what this test froze.
        for (const auto& d : dirs_named(name_)) {
            std::error_code ec;
            for (const auto& e : std::filesystem::recursive_directory_iterator(d, ec)) {
                if (e.path().filename() == "freezer.state") (void)lxm::base::write_file(e.path().string(), "THAWED");
                if (e.path().filename() == "cgroup.freeze") (void)lxm::base::write_file(e.path().string(), "0");
            }
        }
        for (pid_t pid : children_) ::waitpid(pid, nullptr, 0);
        for (const auto& d : dirs_named(name_)) rmdir_tree(d);
        EXPECT_TRUE(dirs_named(name_).empty()) << "cgroups left behind by " << name_;
    }

    // Forks a child that runs fn and exits; the fixture kills and reaps it at the end.
    pid_t spawn(const std::function<int()>& fn) {
        pid_t pid = ::fork();
        if (pid == 0) ::_exit(fn());
        EXPECT_GT(pid, 0);
        if (pid > 0) children_.push_back(pid);
        return pid;
    }
    pid_t spawn_sleeper() {
        return spawn([] {
            for (;;) ::pause();
            return 0;
        });
    }
    // Reaps a child this test started; returns its wait status.
    int reap(pid_t pid) {
        int status = 0;
        EXPECT_EQ(::waitpid(pid, &status, 0), pid);
        std::erase(children_, pid);
        return status;
    }

    std::unique_ptr<CgroupDriver> v1_driver(bool with_unified) {
        CgroupLayout l = host_;
        if (!with_unified) {
            l.unified_dir.reset();
            l.mode = CgroupMode::v1;
        }
        auto d = make_cgroup_driver(l);
        EXPECT_TRUE(d) << d.error().message();
        return d ? std::move(*d) : nullptr;
    }

    // The cgroup2 mount of a hybrid host, driven as a v2 root.
    std::unique_ptr<CgroupDriver> unified_driver() {
        auto mi = lxm::base::read_file("/proc/self/mountinfo");
        if (!mi) return nullptr;
        auto l = CgroupLayout::parse(*mi, host_.unified_path());
        if (!l || l->mode != CgroupMode::v2) return nullptr;
        auto d = make_cgroup_driver(*l);
        return d ? std::move(*d) : nullptr;
    }

    std::string v1_dir(const std::string& controller, const std::string& rel) const {
        const auto* h = host_.hierarchy_for(controller);
        return h ? kCgroupRoot + "/" + h->mount_dir + "/" + rel : std::string();
    }

    bool is_v1_host() const { return host_.mode != CgroupMode::v2; }

    CgroupLayout host_;
    std::string name_;
    std::vector<pid_t> children_;
};

// A pipe a child waits on until the parent has put it where it belongs.
struct Gate {
    int fds[2] = {-1, -1};
    Gate() { EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0); }
    ~Gate() {
        for (int fd : fds)
            if (fd >= 0) ::close(fd);
    }
    bool wait() const {  // in the child
        char c;
        return ::read(fds[0], &c, 1) == 1;
    }
    void open() const { EXPECT_EQ(::write(fds[1], "x", 1), 1); }
};

// A shared counter a child increments while it runs.
struct Counter {
    std::atomic<uint64_t>* value = nullptr;
    Counter() {
        void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) value = new (p) std::atomic<uint64_t>(0);
    }
    ~Counter() {
        if (value) ::munmap(value, 4096);
    }
    std::function<int()> loop() const {
        auto* v = value;
        return [v] {
            for (;;) {
                v->fetch_add(1);
                sleep_ms(1);
            }
            return 0;
        };
    }
    // Whether the counter moves within ms.
    bool moves(long ms) const {
        uint64_t a = value->load();
        sleep_ms(ms);
        return value->load() != a;
    }
};

// Device probe: a child blocked until released, then opening each path and reporting errno (0 = opened).
struct DeviceProbe {
    int go[2] = {-1, -1};
    int out[2] = {-1, -1};
    DeviceProbe() {
        EXPECT_EQ(::pipe2(go, O_CLOEXEC), 0);
        EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    }
    ~DeviceProbe() {
        for (int fd : {go[0], go[1], out[0], out[1]})
            if (fd >= 0) ::close(fd);
    }
    // opens: paths to open read-only; mknods: (path, mode, dev) to make.
    std::function<int()> body(const std::vector<std::string>& opens,
                              const std::vector<std::tuple<std::string, mode_t, dev_t>>& mknods) {
        return [this, opens, mknods] {
            char c;
            if (::read(go[0], &c, 1) != 1) return 1;
            for (const auto& p : opens) {
                int fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                int res = fd >= 0 ? 0 : errno;
                if (fd >= 0) ::close(fd);
                if (::write(out[1], &res, sizeof res) != sizeof res) return 2;
            }
            for (const auto& [p, mode, dev] : mknods) {
                int res = ::mknod(p.c_str(), mode | 0600, dev) == 0 ? 0 : errno;
                if (::write(out[1], &res, sizeof res) != sizeof res) return 2;
            }
            return 0;
        };
    }
    std::vector<int> run(size_t n) {
        EXPECT_EQ(::write(go[1], "x", 1), 1);
        std::vector<int> res(n, -1);
        for (size_t i = 0; i < n; ++i)
            if (::read(out[0], &res[i], sizeof(int)) != sizeof(int)) break;
        return res;
    }
};

int open_errno(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        ::close(fd);
        return 0;
    }
    return errno;
}

}  // namespace

TEST_F(CgroupPriv, V1CreateAttachLimitsStatsKillDestroy) {
    if (!is_v1_host()) GTEST_SKIP() << "host has no v1 hierarchies";
    auto d = v1_driver(true);
    ASSERT_TRUE(d);
    std::string path = name_ + "/c1";
    auto r = d->create(path);
    ASSERT_TRUE(r) << r.error().message();
    for (const auto& h : host_.v1) EXPECT_TRUE(lxm::base::path_exists(kCgroupRoot + "/" + h.mount_dir + "/" + path));
    if (host_.unified_dir) {
        EXPECT_TRUE(lxm::base::path_exists(host_.unified_path() + "/" + path));
    }
    if (auto cs = v1_dir("cpuset", path); !cs.empty()) {
        EXPECT_EQ(read_trim(cs + "/cpuset.cpus"), read_trim(kCgroupRoot + "/cpuset/cpuset.cpus"));
        EXPECT_FALSE(read_trim(cs + "/cpuset.mems").empty());
        EXPECT_EQ(read_trim(cs + "/cgroup.clone_children"), "1");
    }

    pid_t pid = spawn_sleeper();
    r = d->attach(path, pid);
    ASSERT_TRUE(r) << r.error().message();
    // The kernel agrees, hierarchy by hierarchy.
    std::string cg = read_trim("/proc/" + std::to_string(pid) + "/cgroup");
    for (const auto& h : host_.v1) {
        std::string want = (h.controllers.empty() ? "name=" + h.name : h.mount_data()) + ":/" + path;
        EXPECT_NE(cg.find(want), std::string::npos) << want << " not in\n" << cg;
    }
    auto pids = d->pids(path);
    ASSERT_TRUE(pids) << pids.error().message();
    EXPECT_EQ(*pids, std::vector<pid_t>{pid});
    auto pop = d->is_populated(path);
    ASSERT_TRUE(pop);
    EXPECT_TRUE(*pop);

    CgroupLimits l;
    l.memory_max = 256 << 20;
    if (lxm::base::path_exists(v1_dir("memory", path) + "/memory.memsw.limit_in_bytes")) l.memory_swap_max = 64 << 20;
    l.cpu_quota_us = 50000;
    l.cpu_period_us = 100000;
    l.cpu_weight = 200;
    l.pids_max = 100;
    std::string blkio = v1_dir("blkio", path);
    bool has_io = lxm::base::path_exists(blkio + "/blkio.weight") || lxm::base::path_exists(blkio + "/blkio.bfq.weight");
    if (has_io) l.io_weight = 1000;
    r = d->apply_limits(path, l);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(read_trim(v1_dir("memory", path) + "/memory.limit_in_bytes"), std::to_string(256 << 20));
    if (l.memory_swap_max) {
        EXPECT_EQ(read_trim(v1_dir("memory", path) + "/memory.memsw.limit_in_bytes"), std::to_string(320 << 20));
    }
    EXPECT_EQ(read_trim(v1_dir("cpu", path) + "/cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(read_trim(v1_dir("cpu", path) + "/cpu.cfs_period_us"), "100000");
    EXPECT_EQ(read_trim(v1_dir("cpu", path) + "/cpu.shares"), "2048");
    EXPECT_EQ(read_trim(v1_dir("pids", path) + "/pids.max"), "100");
    if (has_io) {
        if (lxm::base::path_exists(blkio + "/blkio.weight")) {
            EXPECT_EQ(read_trim(blkio + "/blkio.weight"), "1000");
        } else {
            EXPECT_EQ(read_trim(blkio + "/blkio.bfq.weight"), std::to_string(io_weight_to_bfq_weight(1000)));
        }
    }
    // Lowering the memory limit below memsw and raising it again both work (write order).
    CgroupLimits grow;
    grow.memory_max = 1 << 30;
    grow.memory_swap_max = l.memory_swap_max;
    if (grow.memory_swap_max) {
        r = d->apply_limits(path, grow);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(read_trim(v1_dir("memory", path) + "/memory.limit_in_bytes"), std::to_string(1 << 30));
    }
    CgroupLimits unlimited;
    unlimited.pids_max = -1;
    unlimited.cpu_quota_us = -1;
    ASSERT_TRUE(d->apply_limits(path, unlimited));
    EXPECT_EQ(read_trim(v1_dir("pids", path) + "/pids.max"), "max");
    EXPECT_EQ(read_trim(v1_dir("cpu", path) + "/cpu.cfs_quota_us"), "-1");

    auto s = d->stats(path);
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_TRUE(s->memory_bytes);
    EXPECT_TRUE(s->cpu_usage_ns);
    EXPECT_EQ(s->pids, 1u);

    // Destroy refuses while a process is inside.
    auto busy = d->destroy(path);
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, std::errc::device_or_resource_busy);
    EXPECT_NE(busy.error().message().find("processes remain"), std::string::npos) << busy.error().message();

    r = d->kill_all(path);
    ASSERT_TRUE(r) << r.error().message();
    int status = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    pids = d->pids(path);
    ASSERT_TRUE(pids);
    EXPECT_TRUE(pids->empty());
    r = d->destroy(name_);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(dirs_named(name_).empty());
}

TEST_F(CgroupPriv, V1DevicePolicyDeniesUnlistedDevices) {
    if (!host_.hierarchy_for("devices")) GTEST_SKIP() << "no v1 devices controller";
    auto d = v1_driver(true);
    ASSERT_TRUE(d);
    std::string path = name_;
    ASSERT_TRUE(d->create(path));
    auto r = d->apply_device_policy(path);
    ASSERT_TRUE(r) << r.error().message();
    std::string list = read_trim(v1_dir("devices", path) + "/devices.list");
    EXPECT_NE(list.find("c 1:3 rwm"), std::string::npos) << list;
    EXPECT_NE(list.find("c 136:* rwm"), std::string::npos) << list;
    EXPECT_EQ(list.find("a *:*"), std::string::npos) << list;

    TempDir t("cgdev");
    std::string blk = t / "blk", chr = t / "chr";
    ASSERT_EQ(::mknod(blk.c_str(), S_IFBLK | 0600, makedev(240, 0)), 0);
    ASSERT_EQ(::mknod(chr.c_str(), S_IFCHR | 0600, makedev(240, 1)), 0);
    // Outside the cgroup these fail for want of a driver, not for permission.
    ASSERT_NE(open_errno(blk), EPERM);
    ASSERT_NE(open_errno(chr), EPERM);
    ASSERT_EQ(open_errno("/dev/null"), 0);

    DeviceProbe probe;
    pid_t pid = spawn(probe.body({"/dev/null", "/dev/zero", blk, chr},
                                 {{t / "made-null", S_IFCHR, makedev(1, 3)}, {t / "made-blk", S_IFBLK, makedev(240, 2)}}));
    ASSERT_TRUE(d->attach(path, pid));
    auto res = probe.run(6);
    EXPECT_EQ(res, (std::vector<int>{0, 0, EPERM, EPERM, 0, 0})) << "null zero blk chr mknod-c mknod-b";
    EXPECT_EQ(reap(pid), 0);
    // The node it made may exist but not be opened by it: covered by chr; the host can open it.
    EXPECT_EQ(open_errno(t / "made-null"), 0);
    ASSERT_TRUE(d->destroy(path));
}

TEST_F(CgroupPriv, V1FreezeStopsAndThawResumes) {
    if (!host_.hierarchy_for("freezer")) GTEST_SKIP() << "no v1 freezer controller";
    auto d = v1_driver(false);
    ASSERT_TRUE(d);
    std::string path = name_ + "/f";
    ASSERT_TRUE(d->create(path));
    Counter counter;
    ASSERT_TRUE(counter.value);
    pid_t pid = spawn(counter.loop());
    ASSERT_TRUE(d->attach(path, pid));
    ASSERT_TRUE(counter.moves(200));

    auto r = d->freeze(path, milliseconds(5000));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(read_trim(v1_dir("freezer", path) + "/freezer.state"), "FROZEN");
    EXPECT_FALSE(counter.moves(200));
    char state = proc_state(pid);
    EXPECT_TRUE(state == 'D' || state == 'T') << "state " << state;  // the v1 freezer shows D on 6.x

    r = d->thaw(path, milliseconds(5000));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(read_trim(v1_dir("freezer", path) + "/freezer.state"), "THAWED");
    EXPECT_TRUE(counter.moves(200));
    EXPECT_NE(proc_state(pid), 'D');

    // kill_all works on a frozen cgroup too.
    ASSERT_TRUE(d->freeze(path, milliseconds(5000)));
    r = d->kill_all(path, milliseconds(5000));
    ASSERT_TRUE(r) << r.error().message();
    int status = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ASSERT_TRUE(d->thaw(path, milliseconds(5000)));
    ASSERT_TRUE(d->destroy(name_));
}

// kill_all of a tree of forking processes, through the freezer (v1 only) and through cgroup.kill
// of the cgroup2 directory (hybrid).
TEST_F(CgroupPriv, V1KillAllEmptiesATreeOfForkingProcesses) {
    if (!is_v1_host()) GTEST_SKIP() << "host has no v1 hierarchies";
    for (bool hybrid : {false, true}) {
        if (hybrid && !host_.unified_dir) continue;
        SCOPED_TRACE(hybrid ? "hybrid: cgroup.kill" : "v1: freezer loop");
        auto d = v1_driver(hybrid);
        ASSERT_TRUE(d);
        std::string path = name_ + (hybrid ? "/h" : "/v");
        ASSERT_TRUE(d->create(path));
        int go[2];
        ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
        pid_t pid = spawn([&] {
            char c;
            if (::read(go[0], &c, 1) != 1) return 1;
            // Children that keep forking.
            for (int i = 0; i < 4; ++i)
                if (::fork() == 0)
                    for (;;) {
                        pid_t p = ::fork();
                        if (p == 0) {
                            sleep_ms(20);
                            ::_exit(0);
                        }
                        if (p > 0) ::waitpid(p, nullptr, 0);
                    }
            for (;;) ::pause();
            return 0;
        });
        ::close(go[0]);
        ASSERT_TRUE(d->attach(path, pid));
        ASSERT_EQ(::write(go[1], "x", 1), 1);
        ::close(go[1]);
        sleep_ms(100);
        auto pids = d->pids(path);
        ASSERT_TRUE(pids);
        EXPECT_GE(pids->size(), 5u);
        auto r = d->kill_all(path, milliseconds(5000));
        ASSERT_TRUE(r) << r.error().message();
        int status = reap(pid);
        EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        pids = d->pids(path);
        ASSERT_TRUE(pids);
        EXPECT_TRUE(pids->empty());
        auto pop = d->is_populated(path);
        ASSERT_TRUE(pop);
        EXPECT_FALSE(*pop);
        auto destroyed = d->destroy(path);
        ASSERT_TRUE(destroyed) << destroyed.error().message();
    }
    ASSERT_TRUE(v1_driver(true)->destroy(name_));
}

TEST_F(CgroupPriv, V1ChownLetsTheContainerRootDelegate) {
    if (!host_.hierarchy_for("memory")) GTEST_SKIP() << "no v1 memory controller";
    auto d = v1_driver(true);
    ASSERT_TRUE(d);
    std::string path = name_;
    ASSERT_TRUE(d->create(path));
    auto r = d->chown_for_container(path, 100000, 100000);
    ASSERT_TRUE(r) << r.error().message();
    struct stat st;
    ASSERT_EQ(::stat((v1_dir("memory", path) + "/cgroup.procs").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 100000u);
    ASSERT_EQ(::stat((v1_dir("memory", path) + "/memory.limit_in_bytes").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);

    // As uid 100000: make a sub-cgroup in every tree and move itself there, as systemd inside would.
    // The paths are made before fork: the child only makes system calls.
    std::vector<std::string> subs, procs;
    for (const auto& h : host_.v1) subs.push_back(kCgroupRoot + "/" + h.mount_dir + "/" + path + "/init.scope");
    if (host_.unified_dir) subs.push_back(host_.unified_path() + "/" + path + "/init.scope");
    for (const auto& s : subs) procs.push_back(s + "/cgroup.procs");
    Gate gate;
    pid_t pid = spawn([&] {
        // Wait to be in the delegated cgroup: v2 moves need write access to the common ancestor.
        if (!gate.wait()) return 9;
        if (::setresgid(100000, 100000, 100000) != 0 || ::setresuid(100000, 100000, 100000) != 0) return 10;
        for (size_t i = 0; i < subs.size(); ++i)
            if (::mkdir(subs[i].c_str(), 0755) != 0) return 20 + static_cast<int>(i);
        for (size_t i = 0; i < procs.size(); ++i) {
            int fd = ::open(procs[i].c_str(), O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ::write(fd, "0", 1) != 1) return 50 + static_cast<int>(i);
            ::close(fd);
        }
        return 0;
    });
    ASSERT_TRUE(d->attach(path, pid));
    gate.open();
    int status = reap(pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "20+i: mkdir in tree i failed, 50+i: moving into tree i failed";
    auto destroyed = d->destroy(path);
    ASSERT_TRUE(destroyed) << destroyed.error().message();
}

// The v2 driver on the cgroup2 of a hybrid host: no controllers there, but cgroup.freeze, cgroup.kill,
// cgroup.events and device BPF programs all work.
TEST_F(CgroupPriv, V2OnTheUnifiedMount) {
    if (host_.mode == CgroupMode::v2) GTEST_SKIP() << "pure v2 host: TODO run the same on the real root";
    if (!host_.unified_dir) GTEST_SKIP() << "no cgroup2 mount";
    auto d = unified_driver();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->layout().mode, CgroupMode::v2);
    std::string path = name_ + "/c1";
    std::string dir = host_.unified_path() + "/" + path;
    auto r = d->create(path);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_TRUE(lxm::base::path_exists(dir));

    // No memory controller in this cgroup2: the error names it and nothing is written.
    CgroupLimits l;
    l.memory_max = 1 << 30;
    r = d->apply_limits(path, l);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("'memory' controller"), std::string::npos) << r.error().message();

    r = d->apply_device_policy(path);
    ASSERT_TRUE(r) << r.error().message();
    auto dfd = lxm::base::open_fd(dir, O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(dfd);
    auto ids = attached_device_bpf_ids(dfd->get());
    ASSERT_TRUE(ids) << ids.error().message();
    EXPECT_EQ(ids->size(), 1u);
    // Applying again replaces the program rather than stacking a second one.
    ASSERT_TRUE(d->apply_device_policy(path));
    auto ids2 = attached_device_bpf_ids(dfd->get());
    ASSERT_TRUE(ids2);
    ASSERT_EQ(ids2->size(), 1u);
    EXPECT_NE((*ids2)[0], (*ids)[0]);

    TempDir t("cgdev");
    std::string blk = t / "blk", chr = t / "chr";
    ASSERT_EQ(::mknod(blk.c_str(), S_IFBLK | 0600, makedev(240, 0)), 0);
    ASSERT_EQ(::mknod(chr.c_str(), S_IFCHR | 0600, makedev(240, 1)), 0);
    ASSERT_NE(open_errno(blk), EPERM);
    DeviceProbe probe;
    pid_t probe_pid = spawn(probe.body({"/dev/null", "/dev/urandom", blk, chr, "/dev/mem"},
                                       {{t / "made-null", S_IFCHR, makedev(1, 3)}}));
    ASSERT_TRUE(d->attach(path, probe_pid));
    auto res = probe.run(6);
    int mem_expect = lxm::base::path_exists("/dev/mem") ? EPERM : ENOENT;
    EXPECT_EQ(res, (std::vector<int>{0, 0, EPERM, EPERM, mem_expect, 0})) << "null urandom blk chr mem mknod";
    EXPECT_EQ(reap(probe_pid), 0);

    // Freeze and thaw through cgroup.freeze / cgroup.events.
    Counter counter;
    ASSERT_TRUE(counter.value);
    pid_t pid = spawn(counter.loop());
    ASSERT_TRUE(d->attach(path, pid));
    auto pids = d->pids(path);
    ASSERT_TRUE(pids);
    EXPECT_EQ(*pids, std::vector<pid_t>{pid});
    ASSERT_TRUE(counter.moves(200));
    r = d->freeze(path, milliseconds(5000));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_NE(read_trim(dir + "/cgroup.events").find("frozen 1"), std::string::npos);
    EXPECT_FALSE(counter.moves(200));
    r = d->thaw(path, milliseconds(5000));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(counter.moves(200));

    auto s = d->stats(path);
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_TRUE(s->cpu_usage_ns);
    EXPECT_FALSE(s->memory_bytes);

    // Delegation: the container's root can make a sub-cgroup and move there.
    ASSERT_TRUE(d->chown_for_container(path, 100000, 100000));
    std::string sub = dir + "/init.scope";
    std::string sub_procs = sub + "/cgroup.procs";
    Gate gate;
    pid_t deleg = spawn([&] {
        if (!gate.wait()) return 9;
        if (::setresgid(100000, 100000, 100000) != 0 || ::setresuid(100000, 100000, 100000) != 0) return 10;
        if (::mkdir(sub.c_str(), 0755) != 0) return 11;
        int fd = ::open(sub_procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, "0", 1) != 1) return 12;
        ::close(fd);
        return 0;
    });
    ASSERT_TRUE(d->attach(path, deleg));
    gate.open();
    int status = reap(deleg);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);

    // cgroup.kill empties the subtree.
    auto busy = d->destroy(path);
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, std::errc::device_or_resource_busy);
    r = d->kill_all(path, milliseconds(5000));
    ASSERT_TRUE(r) << r.error().message();
    status = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    auto pop = d->is_populated(path);
    ASSERT_TRUE(pop);
    EXPECT_FALSE(*pop);
    r = d->destroy(name_);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(lxm::base::path_exists(host_.unified_path() + "/" + name_));
}

TEST_F(CgroupPriv, CreateFailsCleanlyWhenTheCgroupExists) {
    if (!is_v1_host()) GTEST_SKIP() << "host has no v1 hierarchies";
    auto d = v1_driver(true);
    ASSERT_TRUE(d);
    ASSERT_TRUE(d->create(name_ + "/x"));
    auto again = d->create(name_ + "/x");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, std::errc::file_exists);
    // Still there after the failed second create (the undo only removes what it made).
    for (const auto& h : host_.v1) EXPECT_TRUE(lxm::base::path_exists(kCgroupRoot + "/" + h.mount_dir + "/" + name_ + "/x"));
    ASSERT_TRUE(d->destroy(name_));
}

// Runs last in this file: nothing named by this process is left in any hierarchy.
TEST(CgroupPrivZ, NothingLeftBehind) {
    LXM_REQUIRE_ROOT();
    EXPECT_TRUE(dirs_named(prefix()).empty());
}
