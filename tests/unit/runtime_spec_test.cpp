#include <gtest/gtest.h>

#include "lxm/runtime/container_fs.hpp"
#include "lxm/runtime/idmap.hpp"
#include "lxm/runtime/spec.hpp"
#include "lxm/runtime/start.hpp"

using namespace lxm::runtime;

namespace {
Spec good_spec() {
    Spec s;
    s.name = "c1";
    s.rootfs = "/var/lib/lxm/images/x/rootfs";
    s.run_dir = "/run/lxm/c1";
    s.log_dir = "/var/log/lxm/c1";
    s.idmap = make_idmap(1000000);
    return s;
}
}  // namespace

TEST(RuntimeSpec, JsonRoundTrip) {
    Spec s = good_spec();
    s.upper_dir = "/u";
    s.work_dir = "/w";
    s.limits.memory_max = 512 << 20;
    s.limits.pids_max = 100;
    s.net_links = {"lxm1234=eth0"};
    s.env = {"A=b"};
    nlohmann::json j = s;
    Spec back = j.get<Spec>();
    EXPECT_EQ(back.name, "c1");
    EXPECT_EQ(back.idmap, s.idmap);
    EXPECT_EQ(back.limits, s.limits);
    EXPECT_EQ(back.net_links, s.net_links);
    EXPECT_EQ(back.upper_dir, "/u");
    EXPECT_EQ(back.env, s.env);
}

TEST(RuntimeSpec, ValidateRejectsBadInput) {
    EXPECT_TRUE(validate(good_spec()));
    for (const char* bad : {"", "../x", "a/b", "-lead", "has space", "x.y"}) {
        Spec s = good_spec();
        s.name = bad;
        EXPECT_FALSE(validate(s)) << bad;
    }
    Spec s = good_spec();
    s.name = std::string(64, 'a');
    EXPECT_FALSE(validate(s));
    s = good_spec();
    s.idmap = {};
    auto r = validate(s);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("id map"), std::string::npos);
    s.privileged = true;
    EXPECT_TRUE(validate(s));  // privileged needs no map
    s = good_spec();
    s.idmap.uid[0].outside = 0;  // mapping host root is never allowed
    EXPECT_FALSE(validate(s));
    s = good_spec();
    s.upper_dir = "/u";  // without work_dir
    EXPECT_FALSE(validate(s));
    s = good_spec();
    s.init = {"sbin/init"};
    EXPECT_FALSE(validate(s));
    s = good_spec();
    s.net_links = {"eth0"};
    EXPECT_FALSE(validate(s));
}

TEST(RuntimeSpec, StopSignalPerInit) {
    EXPECT_EQ(default_stop_signal_for_init("systemd"), SIGRTMIN + 3);
    EXPECT_EQ(default_stop_signal_for_init("sysvinit"), SIGPWR);
    EXPECT_EQ(default_stop_signal_for_init("busybox"), SIGUSR2);
}

TEST(IdMap, FormatAndHostRoot) {
    IdMap m = make_idmap(1000000, 65536);
    EXPECT_EQ(format_id_map(m.uid), "0 1000000 65536\n");
    EXPECT_EQ(*m.host_root_uid(), 1000000u);
    m.uid.insert(m.uid.begin(), IdMapEntry{1000, 5000, 1});
    EXPECT_EQ(format_id_map(m.uid), "1000 5000 1\n0 1000000 65536\n");
    EXPECT_EQ(*m.host_root_uid(), 1000000u);
}

TEST(IdMap, AllocatorHandsOutDisjointRangesUntilExhausted) {
    IdAllocator a(1000000, 3 * 65536);
    std::set<uint32_t> used;
    for (int i = 0; i < 3; ++i) {
        auto b = a.allocate(used);
        ASSERT_TRUE(b);
        EXPECT_TRUE(a.contains(*b));
        EXPECT_FALSE(used.count(*b));
        used.insert(*b);
    }
    auto full = a.allocate(used);
    ASSERT_FALSE(full);
    EXPECT_NE(full.error().message().find("exhausted"), std::string::npos);
    used.erase(1000000 + 65536);
    EXPECT_EQ(*a.allocate(used), 1000000u + 65536);
    EXPECT_FALSE(a.contains(1000001));
}

TEST(IdMap, ParseSubid) {
    auto r = parse_subid("lxd:100000:65536\nroot:1000000:1000000000\n", "root");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->first, 1000000u);
    EXPECT_EQ(r->second, 1000000000u);
    EXPECT_FALSE(parse_subid("root:x:1\n", "root"));
    EXPECT_FALSE(parse_subid("", "root"));
}

TEST(ContainerFs, MasksCoverTheSensitivePaths) {
    auto has = [](const std::vector<std::string>& v, const std::string& p) {
        return std::find(v.begin(), v.end(), p) != v.end();
    };
    EXPECT_TRUE(has(masked_paths(), "/proc/kcore"));
    EXPECT_TRUE(has(readonly_paths(), "/proc/sysrq-trigger"));
    EXPECT_TRUE(has(readonly_paths(), "/proc/sys"));
}

TEST(Start, InitEnvironmentMarksTheContainer) {
    Spec s = good_spec();
    s.env = {"FOO=bar"};
    auto env = init_environment(s);
    EXPECT_EQ(env.front(), "container=lxm");
    EXPECT_NE(std::find(env.begin(), env.end(), "FOO=bar"), env.end());
}

#include "lxm/runtime/cgroup_join.hpp"

TEST(CgroupJoin, MapsProcCgroupLinesToHostDirs) {
    std::string mountinfo =
        "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
        "32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
        "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "34 30 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
    auto layout = CgroupLayout::parse(mountinfo);
    ASSERT_TRUE(layout) << layout.error().message();
    auto dirs = cgroup_dirs_of("4:pids:/lxm/c1\n3:cpu,cpuacct:/lxm/c1\n1:name=systemd:/lxm/c1/init.scope\n"
                               "0::/lxm/c1/init.scope\n9:evil:/../../x\n",
                               *layout);
    std::vector<std::string> want = {"/sys/fs/cgroup/pids/lxm/c1", "/sys/fs/cgroup/cpu,cpuacct/lxm/c1",
                                     "/sys/fs/cgroup/systemd/lxm/c1/init.scope",
                                     "/sys/fs/cgroup/unified/lxm/c1/init.scope"};
    EXPECT_EQ(dirs, want);
}
