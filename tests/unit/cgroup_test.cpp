// Cgroup layout parsing, limit conversions, device rules and their BPF program, and the drivers
// writing into a fake cgroup tree in a temp dir.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "lxm/base/file.hpp"
#include "lxm/runtime/cgroup.hpp"
#include "lxm/runtime/cgroup_device_bpf.hpp"
#include "lxm/runtime/cgroup_devices.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::runtime;
using lxm::base::read_file;
using lxm::base::write_file;
using lxm::test::TempDir;

namespace {

// /proc/self/mountinfo of a Debian 10 host: hybrid, co-mounted controllers.
constexpr const char* kDebian10 =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup "
    "rw,xattr,name=systemd\n"
    "30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup "
    "rw,cpu,cpuacct\n"
    "31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup "
    "rw,net_cls,net_prio\n"
    "32 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory\n"
    "33 25 0:30 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup "
    "rw,freezer,release_agent=/x\n";

constexpr const char* kUnified =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

constexpr const char* kLegacy =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/systemd/sub rw,relatime - cgroup cgroup rw,pids\n"
    "42 22 0:38 / /mnt/elsewhere rw,relatime - cgroup cgroup rw,memory\n";

std::string dump(const std::string& path) {
    auto r = read_file(path);
    return r ? *r : "<" + r.error().message() + ">";
}

void touch(const std::string& path, const std::string& content = "") {
    ASSERT_TRUE(write_file(path, content, true)) << path;
}

void mkdirs(const std::string& path) { ASSERT_TRUE(lxm::base::mkdir_p(path)) << path; }

}  // namespace

// ---- layout ----

TEST(CgroupLayout, ParsesHybridWithCoMountedControllers) {
    auto l = CgroupLayout::parse(kDebian10);
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(l->mode, CgroupMode::hybrid);
    EXPECT_EQ(l->root, "/sys/fs/cgroup");
    ASSERT_EQ(l->v1.size(), 5u);
    EXPECT_EQ(l->v1[0].mount_dir, "systemd");
    EXPECT_EQ(l->v1[0].name, "systemd");
    EXPECT_TRUE(l->v1[0].controllers.empty());
    EXPECT_EQ(l->v1[0].mount_data(), "none,name=systemd");
    EXPECT_EQ(l->v1[1].mount_dir, "cpu,cpuacct");
    EXPECT_EQ(l->v1[1].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
    EXPECT_EQ(l->v1[1].mount_data(), "cpu,cpuacct");
    // Options that are not controllers are dropped.
    EXPECT_EQ(l->v1[4].controllers, (std::vector<std::string>{"freezer"}));
    ASSERT_NE(l->hierarchy_for("cpuacct"), nullptr);
    EXPECT_EQ(l->hierarchy_for("cpuacct")->mount_dir, "cpu,cpuacct");
    EXPECT_EQ(l->hierarchy_for("name=systemd")->mount_dir, "systemd");
    EXPECT_EQ(l->hierarchy_for("pids"), nullptr);
    EXPECT_EQ(l->unified_dir, "unified");
    EXPECT_EQ(l->unified_path(), "/sys/fs/cgroup/unified");
    EXPECT_EQ(to_string(l->mode), "hybrid");
}

TEST(CgroupLayout, ParsesUnified) {
    auto l = CgroupLayout::parse(kUnified, "/sys/fs/cgroup/");
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(l->mode, CgroupMode::v2);
    EXPECT_EQ(l->root, "/sys/fs/cgroup");
    EXPECT_TRUE(l->v1.empty());
    EXPECT_EQ(l->unified_dir, "");
    EXPECT_EQ(l->unified_path(), "/sys/fs/cgroup");
}

TEST(CgroupLayout, ParsesLegacyAndIgnoresMountsNotDirectlyUnderRoot) {
    auto l = CgroupLayout::parse(kLegacy);
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(l->mode, CgroupMode::v1);
    ASSERT_EQ(l->v1.size(), 3u);
    EXPECT_EQ(l->v1[2].mount_dir, "systemd");
    EXPECT_EQ(l->hierarchy_for("pids"), nullptr);
    EXPECT_EQ(l->hierarchy_for("memory"), nullptr);
    EXPECT_FALSE(l->unified_dir);
    EXPECT_EQ(l->unified_path(), "");
}

TEST(CgroupLayout, TheUnifiedMountOfAHybridHostIsAV2Root) {
    // How the priv tests drive the v2 driver on a hybrid host.
    auto l = CgroupLayout::parse(kDebian10, "/sys/fs/cgroup/unified");
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(l->mode, CgroupMode::v2);
    EXPECT_EQ(l->unified_path(), "/sys/fs/cgroup/unified");
}

TEST(CgroupLayout, LaterMountsHideEarlierOnes) {
    std::string text = std::string(kLegacy) + "50 31 0:40 / /sys/fs/cgroup/cpu rw - tmpfs tmpfs rw\n";
    auto l = CgroupLayout::parse(text);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->hierarchy_for("cpu"), nullptr);
    // A new mount on the root hides everything below.
    text += "51 23 0:41 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    l = CgroupLayout::parse(text);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->mode, CgroupMode::v2);
    EXPECT_TRUE(l->v1.empty());
}

TEST(CgroupLayout, UnescapesMountPoints) {
    auto l = CgroupLayout::parse("1 0 0:1 / /tmp/a\\040b rw - tmpfs tmpfs rw\n"
                                 "2 1 0:2 / /tmp/a\\040b/x\\134y rw - cgroup cgroup rw,pids\n",
                                 "/tmp/a b");
    ASSERT_TRUE(l) << l.error().message();
    ASSERT_EQ(l->v1.size(), 1u);
    EXPECT_EQ(l->v1[0].mount_dir, "x\\y");
}

TEST(CgroupLayout, RejectsGarbageAndNoCgroups) {
    auto bad = CgroupLayout::parse("1 2 3\n");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, std::errc::bad_message);
    auto none = CgroupLayout::parse("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().message().find("no cgroup filesystem"), std::string::npos);
}

TEST(CgroupLayout, DetectReadsMountinfoAndControllers) {
    TempDir t("cg");
    std::string root = t / "cg";
    mkdirs(root);
    touch(root + "/cgroup.controllers", "cpuset cpu io memory pids\n");
    touch(t / "mountinfo", "29 22 0:26 / " + root + " rw - cgroup2 cgroup2 rw\n");
    auto l = CgroupLayout::detect(root, t / "mountinfo");
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(l->mode, CgroupMode::v2);
    EXPECT_EQ(l->unified_controllers, (std::vector<std::string>{"cpuset", "cpu", "io", "memory", "pids"}));
}

TEST(CgroupLayout, DetectsThisHost) {
    auto l = CgroupLayout::detect();
    if (!l) GTEST_SKIP() << "no cgroups mounted here: " << l.error().message();
    EXPECT_TRUE(l->mode == CgroupMode::v2 || !l->v1.empty());
    auto d = make_cgroup_driver(*l);
    ASSERT_TRUE(d) << d.error().message();
}

TEST(CgroupPath, AcceptsRelativeAndRejectsEscapes) {
    auto ok = split_cgroup_path("lxm.payload/c1");
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, (std::vector<std::string>{"lxm.payload", "c1"}));
    for (const char* bad : {"", "/lxm", "lxm/", "lxm//c1", "../x", "lxm/./c1", "lxm/..", "a\nb"}) {
        auto r = split_cgroup_path(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, std::errc::invalid_argument);
    }
}

// ---- limits ----

TEST(CgroupLimits, WeightConversionsKeepDefaultsAndRanges) {
    EXPECT_EQ(cpu_weight_to_shares(100), 1024u);
    EXPECT_EQ(cpu_weight_to_shares(1), 10u);
    EXPECT_EQ(cpu_weight_to_shares(10000), 102400u);
    EXPECT_EQ(io_weight_to_blkio_weight(100), 500u);
    EXPECT_EQ(io_weight_to_blkio_weight(1), 10u);
    EXPECT_EQ(io_weight_to_blkio_weight(10000), 1000u);
    EXPECT_EQ(io_weight_to_bfq_weight(1), 1u);
    EXPECT_EQ(io_weight_to_bfq_weight(100), 100u);
    EXPECT_EQ(io_weight_to_bfq_weight(10000), 1000u);
    EXPECT_EQ(io_weight_to_bfq_weight(5050), 550u);
    // Monotonic over the whole range.
    for (uint64_t w = 2; w <= 10000; ++w) {
        ASSERT_GE(cpu_weight_to_shares(w), cpu_weight_to_shares(w - 1));
        ASSERT_GE(io_weight_to_bfq_weight(w), io_weight_to_bfq_weight(w - 1));
    }
}

TEST(CgroupLimits, ValidateRejectsOutOfRange) {
    EXPECT_TRUE(validate_limits({}));
    CgroupLimits l;
    l.cpu_weight = 0;
    EXPECT_FALSE(validate_limits(l));
    l.cpu_weight = 10001;
    EXPECT_FALSE(validate_limits(l));
    l = {};
    l.io_weight = 0;
    EXPECT_FALSE(validate_limits(l));
    l = {};
    l.cpu_quota_us = 500;
    EXPECT_FALSE(validate_limits(l));
    l.cpu_quota_us = -1;
    EXPECT_TRUE(validate_limits(l));
    l.cpu_period_us = 10;
    EXPECT_FALSE(validate_limits(l));
}

// ---- device rules ----

TEST(CgroupDevices, DefaultRulesAsV1Lines) {
    std::vector<std::string> lines;
    for (const auto& r : default_device_rules()) lines.push_back(to_v1_line(r));
    std::vector<std::string> want = {"c *:* m",     "b *:* m",     "c 1:3 rwm",   "c 1:5 rwm",  "c 1:7 rwm",
                                     "c 1:8 rwm",   "c 1:9 rwm",   "c 5:0 rwm",   "c 5:1 rwm",  "c 5:2 rwm",
                                     "c 136:* rwm", "c 10:229 rwm", "c 10:200 rwm"};
    EXPECT_EQ(lines, want);
    for (const auto& line : lines) {
        auto r = parse_device_rule(line);
        ASSERT_TRUE(r) << line;
        EXPECT_EQ(to_v1_line(*r), line);
    }
}

TEST(CgroupDevices, ParseRejectsBadRules) {
    for (const char* bad : {"", "x 1:3 rwm", "c 1:3 rwx", "c 1 rwm", "c a:3 rwm", "c 1:3 ", "a 1:3 rwm",
                            "c 4294967296:1 r", "c -1:1 r"}) {
        EXPECT_FALSE(parse_device_rule(bad)) << bad;
    }
    auto all = parse_device_rule("a *:* rwm");
    ASSERT_TRUE(all);
    EXPECT_EQ(all->type, 'a');
    EXPECT_EQ(all->access, DeviceRule::kMknod | DeviceRule::kRead | DeviceRule::kWrite);
}

TEST(CgroupDevices, ReferenceSemanticsOfDefaults) {
    const auto& rules = default_device_rules();
    constexpr uint8_t r = DeviceRule::kRead, w = DeviceRule::kWrite, m = DeviceRule::kMknod;
    EXPECT_TRUE(device_rules_allow(rules, 'c', 1, 3, r | w));     // /dev/null
    EXPECT_TRUE(device_rules_allow(rules, 'c', 136, 7, r | w));   // /dev/pts/7
    EXPECT_TRUE(device_rules_allow(rules, 'b', 8, 0, m));         // mknod /dev/sda
    EXPECT_FALSE(device_rules_allow(rules, 'b', 8, 0, r));        // open /dev/sda
    EXPECT_FALSE(device_rules_allow(rules, 'c', 1, 1, r));        // /dev/mem
    EXPECT_FALSE(device_rules_allow(rules, 'c', 1, 3, static_cast<uint8_t>(r | 8)));  // unknown access bit
}

// A small interpreter for the instructions the generator emits, with the verifier's basic checks
// (jumps in range, no unreachable instruction, ends in exit).
namespace {

struct RunResult {
    bool ok = false;
    std::string error;
    uint64_t r0 = 0;
};

RunResult run_bpf(const std::vector<bpf_insn>& prog, const bpf_cgroup_dev_ctx& ctx) {
    uint64_t reg[11] = {};
    reg[1] = reinterpret_cast<uintptr_t>(&ctx);
    size_t pc = 0;
    for (int steps = 0; steps < 100000; ++steps) {
        if (pc >= prog.size()) return {false, "fell off the end", 0};
        const bpf_insn& i = prog[pc];
        switch (i.code) {
            case BPF_LDX | BPF_MEM | BPF_W: {
                if (reg[i.src_reg] != reinterpret_cast<uintptr_t>(&ctx)) return {false, "load not from ctx", 0};
                if (i.off < 0 || i.off + 4 > static_cast<int>(sizeof ctx)) return {false, "ctx load out of range", 0};
                uint32_t v;
                std::memcpy(&v, reinterpret_cast<const char*>(&ctx) + i.off, 4);
                reg[i.dst_reg] = v;
                break;
            }
            case BPF_ALU | BPF_AND | BPF_K:
                reg[i.dst_reg] = static_cast<uint32_t>(reg[i.dst_reg]) & static_cast<uint32_t>(i.imm);
                break;
            case BPF_ALU | BPF_RSH | BPF_K:
                reg[i.dst_reg] = static_cast<uint32_t>(reg[i.dst_reg]) >> i.imm;
                break;
            case BPF_ALU64 | BPF_MOV | BPF_X: reg[i.dst_reg] = reg[i.src_reg]; break;
            case BPF_ALU64 | BPF_MOV | BPF_K: reg[i.dst_reg] = static_cast<uint64_t>(static_cast<int64_t>(i.imm)); break;
            case BPF_JMP32 | BPF_JNE | BPF_K:
                if (static_cast<uint32_t>(reg[i.dst_reg]) != static_cast<uint32_t>(i.imm)) pc += i.off;
                break;
            case BPF_JMP | BPF_EXIT: return {true, "", reg[0]};
            default: return {false, "unexpected opcode " + std::to_string(i.code), 0};
        }
        ++pc;
    }
    return {false, "loop", 0};
}

// Static checks the kernel verifier makes that the interpreter would not notice.
std::string check_structure(const std::vector<bpf_insn>& prog) {
    if (prog.empty() || prog.back().code != (BPF_JMP | BPF_EXIT)) return "does not end in exit";
    std::vector<bool> seen(prog.size());
    std::vector<size_t> todo = {0};
    while (!todo.empty()) {
        size_t pc = todo.back();
        todo.pop_back();
        if (pc >= prog.size()) return "jump out of range";
        if (seen[pc]) continue;
        seen[pc] = true;
        const auto& i = prog[pc];
        if (i.code == (BPF_JMP | BPF_EXIT)) continue;
        if (i.code == (BPF_JMP32 | BPF_JNE | BPF_K)) {
            if (i.off < 0) return "backward jump";
            todo.push_back(pc + 1 + i.off);
        }
        todo.push_back(pc + 1);
    }
    for (size_t pc = 0; pc < prog.size(); ++pc)
        if (!seen[pc]) return "unreachable instruction " + std::to_string(pc);
    return "";
}

void expect_program_matches_rules(const std::vector<DeviceRule>& rules) {
    auto prog = device_rules_to_bpf(rules);
    ASSERT_TRUE(prog) << prog.error().message();
    ASSERT_EQ(check_structure(*prog), "");
    std::set<uint32_t> numbers = {0, 1, 2, 3, 5, 7, 8, 9, 10, 136, 200, 229, 0x7fffffff, 0x80000000u, 0xffffffffu};
    for (const auto& r : rules) {
        for (int64_t n : {r.major, r.minor})
            if (n != DeviceRule::kAny) {
                numbers.insert(static_cast<uint32_t>(n));
                numbers.insert(static_cast<uint32_t>(n + 1));
            }
    }
    for (char type : {'c', 'b'})
        for (uint32_t major : numbers)
            for (uint32_t minor : numbers)
                for (uint8_t access = 1; access <= 7; ++access) {
                    bpf_cgroup_dev_ctx ctx{};
                    ctx.access_type = (static_cast<uint32_t>(access) << 16) |
                                      (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
                    ctx.major = major;
                    ctx.minor = minor;
                    auto res = run_bpf(*prog, ctx);
                    ASSERT_TRUE(res.ok) << res.error;
                    ASSERT_EQ(res.r0 == 1, device_rules_allow(rules, type, major, minor, access))
                        << type << " " << major << ":" << minor << " access " << int(access);
                    ASSERT_TRUE(res.r0 == 0 || res.r0 == 1);
                }
}

}  // namespace

TEST(CgroupDeviceBpf, DefaultProgramDecidesLikeTheRules) { expect_program_matches_rules(default_device_rules()); }

TEST(CgroupDeviceBpf, CustomRulesIncludingLargeNumbersAndTypeA) {
    expect_program_matches_rules({
        {'b', 0xffffffff, DeviceRule::kAny, DeviceRule::kRead},
        {'c', 0x80000000LL, 5, DeviceRule::kRead | DeviceRule::kWrite},
        {'a', DeviceRule::kAny, DeviceRule::kAny, DeviceRule::kMknod},
        {'b', 7, 0, DeviceRule::kRead | DeviceRule::kWrite | DeviceRule::kMknod},
    });
    expect_program_matches_rules({});  // nothing allowed
}

TEST(CgroupDeviceBpf, StopsAfterAnUnconditionalAllow) {
    std::vector<DeviceRule> rules = {{'c', 1, 3, 7}, {'a', DeviceRule::kAny, DeviceRule::kAny, 7}, {'b', 8, 0, 2}};
    auto prog = device_rules_to_bpf(rules);
    ASSERT_TRUE(prog);
    EXPECT_EQ(check_structure(*prog), "");
    EXPECT_EQ(prog->back().code, BPF_JMP | BPF_EXIT);
    expect_program_matches_rules(rules);
}

TEST(CgroupDeviceBpf, RejectsInvalidRules) {
    auto r = device_rules_to_bpf({{'x', 1, 3, 7}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::invalid_argument);
    EXPECT_FALSE(device_rules_to_bpf({{'c', 1, 3, 0}}));
}

// ---- drivers on a fake tree ----

namespace {

// A fake hybrid tree: the cgroup "lxm/c1" already exists in every hierarchy with the kernel's files.
struct FakeV1 {
    TempDir t{"cg"};
    std::string root = t / "cgroup";
    CgroupLayout layout;

    explicit FakeV1(bool with_pids = true, bool with_unified = true) {
        std::vector<std::pair<std::string, std::string>> h = {{"cpu,cpuacct", "cpu,cpuacct"},
                                                              {"memory", "memory"},
                                                              {"devices", "devices"},
                                                              {"freezer", "freezer"},
                                                              {"blkio", "blkio"},
                                                              {"systemd", "name=systemd"}};
        if (with_pids) h.emplace_back("pids", "pids");
        std::string mi = "1 0 0:1 / " + root + " rw - tmpfs tmpfs rw\n";
        int id = 2;
        for (auto& [dir, opts] : h) {
            mi += std::to_string(id++) + " 1 0:9 / " + root + "/" + dir + " rw - cgroup cgroup rw," + opts + "\n";
            mkdirs(root + "/" + dir + "/lxm/c1");
            touch(root + "/" + dir + "/lxm/c1/cgroup.procs");
        }
        if (with_unified) {
            mi += "99 1 0:10 / " + root + "/unified rw - cgroup2 cgroup2 rw\n";
            mkdirs(root + "/unified/lxm/c1");
            touch(root + "/unified/lxm/c1/cgroup.procs");
            touch(root + "/unified/lxm/c1/cgroup.events", "populated 1\nfrozen 0\n");
        }
        auto c1 = [&](const std::string& dir) { return root + "/" + dir + "/lxm/c1/"; };
        for (auto f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}) touch(c1("memory") + f);
        touch(c1("memory") + "memory.usage_in_bytes", "4096\n");
        for (auto f : {"cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares"}) touch(c1("cpu,cpuacct") + f);
        touch(c1("cpu,cpuacct") + "cpuacct.usage", "123456789\n");
        touch(c1("blkio") + "blkio.bfq.weight");
        for (auto f : {"devices.allow", "devices.deny"}) touch(c1("devices") + f);
        if (with_pids) {
            touch(c1("pids") + "pids.max");
            touch(c1("pids") + "pids.current", "3\n");
        }
        auto l = CgroupLayout::parse(mi, root);
        EXPECT_TRUE(l) << l.error().message();
        if (l) layout = *l;
    }
    std::string file(const std::string& hierarchy, const std::string& name) const {
        return root + "/" + hierarchy + "/lxm/c1/" + name;
    }
    std::unique_ptr<CgroupDriver> driver() const {
        auto d = make_cgroup_driver(layout);
        EXPECT_TRUE(d);
        return d ? std::move(*d) : nullptr;
    }
};

}  // namespace

TEST(CgroupV1Fake, LayoutIsHybrid) {
    FakeV1 f;
    EXPECT_EQ(f.layout.mode, CgroupMode::hybrid);
    EXPECT_EQ(f.layout.v1.size(), 7u);
    FakeV1 legacy(true, false);
    EXPECT_EQ(legacy.layout.mode, CgroupMode::v1);
}

TEST(CgroupV1Fake, AppliesLimitsToTheV1Files) {
    FakeV1 f;
    auto d = f.driver();
    CgroupLimits l;
    l.memory_max = 512 << 20;
    l.memory_swap_max = 256 << 20;
    l.cpu_quota_us = 50000;
    l.cpu_period_us = 100000;
    l.cpu_weight = 200;
    l.pids_max = 500;
    l.io_weight = 100;
    auto r = d->apply_limits("lxm/c1", l);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(dump(f.file("memory", "memory.limit_in_bytes")), "536870912\n");
    EXPECT_EQ(dump(f.file("memory", "memory.memsw.limit_in_bytes")), "805306368\n");
    EXPECT_EQ(dump(f.file("cpu,cpuacct", "cpu.cfs_period_us")), "100000\n");
    EXPECT_EQ(dump(f.file("cpu,cpuacct", "cpu.cfs_quota_us")), "50000\n");
    EXPECT_EQ(dump(f.file("cpu,cpuacct", "cpu.shares")), "2048\n");
    EXPECT_EQ(dump(f.file("pids", "pids.max")), "500\n");
    EXPECT_EQ(dump(f.file("blkio", "blkio.bfq.weight")), "100\n");

    CgroupLimits unlimited;
    unlimited.memory_max = -1;
    unlimited.pids_max = -1;
    unlimited.cpu_quota_us = -1;
    ASSERT_TRUE(d->apply_limits("lxm/c1", unlimited));
    EXPECT_EQ(dump(f.file("memory", "memory.limit_in_bytes")), "536870912\n-1\n");
    EXPECT_EQ(dump(f.file("pids", "pids.max")), "500\nmax\n");
    EXPECT_EQ(dump(f.file("cpu,cpuacct", "cpu.cfs_quota_us")), "50000\n-1\n");
}

TEST(CgroupV1Fake, MissingControllerIsNamedAndNothingIsWritten) {
    FakeV1 f(/*with_pids=*/false);
    auto d = f.driver();
    CgroupLimits l;
    l.memory_max = 1 << 30;
    l.pids_max = 10;
    auto r = d->apply_limits("lxm/c1", l);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::not_supported);
    EXPECT_NE(r.error().message().find("'pids' controller"), std::string::npos) << r.error().message();
    EXPECT_EQ(dump(f.file("memory", "memory.limit_in_bytes")), "");

    CgroupLimits swap_only;
    swap_only.memory_swap_max = 0;
    r = d->apply_limits("lxm/c1", swap_only);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("needs memory_max"), std::string::npos) << r.error().message();
}

TEST(CgroupV1Fake, MissingBlkioWeightFilesAreNamed) {
    FakeV1 f;
    ASSERT_EQ(::unlink(f.file("blkio", "blkio.bfq.weight").c_str()), 0);
    CgroupLimits l;
    l.io_weight = 100;
    auto r = f.driver()->apply_limits("lxm/c1", l);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("blkio.bfq.weight"), std::string::npos);
}

TEST(CgroupV1Fake, DevicePolicyDeniesAllThenAllowsTheList) {
    FakeV1 f;
    auto r = f.driver()->apply_device_policy("lxm/c1");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(dump(f.file("devices", "devices.deny")), "a\n");
    std::string want;
    for (const auto& rule : default_device_rules()) want += to_v1_line(rule) + "\n";
    EXPECT_EQ(dump(f.file("devices", "devices.allow")), want);
}

TEST(CgroupV1Fake, CreateAttachDestroyInEveryHierarchy) {
    FakeV1 f;
    auto d = f.driver();
    ASSERT_TRUE(d->create("lxm/c2/inner"));
    for (const auto& h : f.layout.v1) EXPECT_TRUE(lxm::base::path_exists(f.root + "/" + h.mount_dir + "/lxm/c2/inner"));
    EXPECT_TRUE(lxm::base::path_exists(f.root + "/unified/lxm/c2/inner"));
    auto again = d->create("lxm/c2/inner");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, std::errc::file_exists);
    ASSERT_TRUE(d->destroy("lxm/c2"));
    for (const auto& h : f.layout.v1) EXPECT_FALSE(lxm::base::path_exists(f.root + "/" + h.mount_dir + "/lxm/c2"));
    EXPECT_FALSE(lxm::base::path_exists(f.root + "/unified/lxm/c2"));
    EXPECT_TRUE(d->destroy("lxm/c2"));  // already gone is fine

    ASSERT_TRUE(d->attach("lxm/c1", 4242));
    for (const auto& h : f.layout.v1) EXPECT_EQ(dump(f.root + "/" + h.mount_dir + "/lxm/c1/cgroup.procs"), "4242\n");
    EXPECT_EQ(dump(f.root + "/unified/lxm/c1/cgroup.procs"), "4242\n");
    EXPECT_FALSE(d->attach("../escape", 1));
}

TEST(CgroupV1Fake, CreateUndoesWhatItMadeOnFailure) {
    FakeV1 f;
    // The leaf exists only in the last tree: create fails there and removes what it made before.
    mkdirs(f.root + "/unified/lxm/c3");
    auto r = f.driver()->create("lxm/c3");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::file_exists);
    for (const auto& h : f.layout.v1) EXPECT_FALSE(lxm::base::path_exists(f.root + "/" + h.mount_dir + "/lxm/c3"));
    EXPECT_TRUE(lxm::base::path_exists(f.root + "/memory/lxm/c1"));
}

TEST(CgroupV1Fake, PidsStatsAndPopulated) {
    FakeV1 f;
    auto d = f.driver();
    touch(f.root + "/unified/lxm/c1/cgroup.procs", "12\n7\n");
    mkdirs(f.root + "/unified/lxm/c1/init.scope");
    touch(f.root + "/unified/lxm/c1/init.scope/cgroup.procs", "1\n12\n");
    auto p = d->pids("lxm/c1");
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(*p, (std::vector<pid_t>{1, 7, 12}));
    auto pop = d->is_populated("lxm/c1");
    ASSERT_TRUE(pop);
    EXPECT_TRUE(*pop);
    auto s = d->stats("lxm/c1");
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(s->memory_bytes, 4096u);
    EXPECT_EQ(s->cpu_usage_ns, 123456789u);
    EXPECT_EQ(s->pids, 3u);

    FakeV1 nopids(false);
    s = nopids.driver()->stats("lxm/c1");
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->pids);
}

TEST(CgroupV1Fake, ChownsTheDelegatedFiles) {
    if (::geteuid() != 0) GTEST_SKIP() << "chown to another uid needs root";
    FakeV1 f;
    touch(f.file("memory", "tasks"));
    touch(f.file("memory", "memory.limit_in_bytes.x"));
    auto r = f.driver()->chown_for_container("lxm/c1", 100000, 100001);
    ASSERT_TRUE(r) << r.error().message();
    struct stat st;
    for (auto p : {f.root + "/memory/lxm/c1", f.file("memory", "cgroup.procs"), f.file("memory", "tasks"),
                   f.root + "/unified/lxm/c1", f.root + "/unified/lxm/c1/cgroup.procs"}) {
        ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
        EXPECT_EQ(st.st_uid, 100000u) << p;
        EXPECT_EQ(st.st_gid, 100001u) << p;
    }
    // Limits stay the host's.
    ASSERT_EQ(::stat(f.file("memory", "memory.limit_in_bytes").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
}

TEST(CgroupV1Fake, ContainerMountsForCoMountedHybrid) {
    auto l = CgroupLayout::parse(kDebian10);
    ASSERT_TRUE(l);
    auto d = make_cgroup_driver(*l);
    ASSERT_TRUE(d);
    auto m = (*d)->container_mounts("lxm/c1");
    ASSERT_TRUE(m) << m.error().message();
    const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
    std::vector<CgroupMount> want = {
        {"tmpfs", "", "tmpfs", "mode=755,size=64k", flags, false, ""},
        {"cgroup", "systemd", "cgroup", "none,name=systemd", flags, false, ""},
        {"cgroup", "cpu,cpuacct", "cgroup", "cpu,cpuacct", flags, false, ""},
        {"cgroup", "net_cls,net_prio", "cgroup", "net_cls,net_prio", flags, false, ""},
        {"cgroup", "memory", "cgroup", "memory", flags, false, ""},
        {"cgroup", "freezer", "cgroup", "freezer", flags, false, ""},
        {"", "cpu", "", "", 0, true, "cpu,cpuacct"},
        {"", "cpuacct", "", "", 0, true, "cpu,cpuacct"},
        {"", "net_cls", "", "", 0, true, "net_cls,net_prio"},
        {"", "net_prio", "", "", 0, true, "net_cls,net_prio"},
        {"cgroup2", "unified", "cgroup2", "", flags, false, ""},
    };
    EXPECT_EQ(*m, want);
    EXPECT_FALSE((*d)->container_mounts("/abs"));
}

namespace {

// A fake unified tree: root and "lxm" exist with their kernel files; "lxm/c1" too.
struct FakeV2 {
    TempDir t{"cg"};
    std::string root = t / "cgroup";
    CgroupLayout layout;

    FakeV2() {
        for (auto dir : {root, root + "/lxm"}) {
            mkdirs(dir);
            touch(dir + "/cgroup.controllers", "cpuset cpu io memory pids hugetlb\n");
            touch(dir + "/cgroup.subtree_control", dir == root ? "cpu\n" : "");
        }
        std::string c1 = root + "/lxm/c1/";
        mkdirs(c1);
        for (auto f : {"cgroup.procs", "memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "pids.max",
                       "io.weight", "cgroup.freeze", "cgroup.kill"})
            touch(c1 + f);
        touch(c1 + "cgroup.events", "populated 0\nfrozen 0\n");
        touch(c1 + "memory.current", "8192\n");
        touch(c1 + "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
        touch(c1 + "pids.current", "2\n");
        auto l = CgroupLayout::parse("29 22 0:26 / " + root + " rw - cgroup2 cgroup2 rw\n", root);
        EXPECT_TRUE(l);
        if (l) layout = *l;
    }
    std::string file(const std::string& name) const { return root + "/lxm/c1/" + name; }
    std::unique_ptr<CgroupDriver> driver() const {
        auto d = make_cgroup_driver(layout);
        EXPECT_TRUE(d);
        return d ? std::move(*d) : nullptr;
    }
};

}  // namespace

TEST(CgroupV2Fake, AppliesLimitsToTheV2Files) {
    FakeV2 f;
    CgroupLimits l;
    l.memory_max = 1 << 30;
    l.memory_swap_max = 0;
    l.cpu_quota_us = 150000;
    l.cpu_period_us = 100000;
    l.cpu_weight = 300;
    l.pids_max = -1;
    l.io_weight = 50;
    auto r = f.driver()->apply_limits("lxm/c1", l);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(dump(f.file("memory.max")), "1073741824\n");
    EXPECT_EQ(dump(f.file("memory.swap.max")), "0\n");
    EXPECT_EQ(dump(f.file("cpu.max")), "150000 100000\n");
    EXPECT_EQ(dump(f.file("cpu.weight")), "300\n");
    EXPECT_EQ(dump(f.file("pids.max")), "max\n");
    EXPECT_EQ(dump(f.file("io.weight")), "default 50\n");

    CgroupLimits unlimited_cpu;
    unlimited_cpu.cpu_quota_us = -1;
    ASSERT_TRUE(f.driver()->apply_limits("lxm/c1", unlimited_cpu));
    EXPECT_EQ(dump(f.file("cpu.max")), "150000 100000\nmax 100000\n");
}

TEST(CgroupV2Fake, MissingControllerIsNamed) {
    FakeV2 f;
    ASSERT_EQ(::unlink(f.file("pids.max").c_str()), 0);
    ASSERT_EQ(::unlink(f.file("io.weight").c_str()), 0);
    CgroupLimits l;
    l.memory_max = 1 << 30;
    l.pids_max = 10;
    auto r = f.driver()->apply_limits("lxm/c1", l);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("'pids' controller"), std::string::npos) << r.error().message();
    EXPECT_EQ(dump(f.file("memory.max")), "");
    // io falls back to BFQ's file when io.weight is missing.
    touch(f.file("io.bfq.weight"));
    CgroupLimits io;
    io.io_weight = 10000;
    ASSERT_TRUE(f.driver()->apply_limits("lxm/c1", io));
    EXPECT_EQ(dump(f.file("io.bfq.weight")), "1000\n");
}

TEST(CgroupV2Fake, CreateEnablesControllersInParents) {
    FakeV2 f;
    auto d = f.driver();
    auto r = d->create("lxm/c2");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(lxm::base::path_exists(f.root + "/lxm/c2"));
    // Root had cpu already; hugetlb is not one lxm asks for.
    EXPECT_EQ(dump(f.root + "/cgroup.subtree_control"), "cpu\n+cpuset\n+io\n+memory\n+pids\n");
    EXPECT_EQ(dump(f.root + "/lxm/cgroup.subtree_control"), "+cpuset\n+cpu\n+io\n+memory\n+pids\n");
    auto again = d->create("lxm/c2");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, std::errc::file_exists);
    ASSERT_TRUE(d->destroy("lxm/c2"));
    EXPECT_FALSE(lxm::base::path_exists(f.root + "/lxm/c2"));
}

TEST(CgroupV2Fake, KillWritesCgroupKillAndStatsParse) {
    FakeV2 f;
    auto d = f.driver();
    auto r = d->kill_all("lxm/c1", std::chrono::milliseconds(100));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(dump(f.file("cgroup.kill")), "1\n");
    auto pop = d->is_populated("lxm/c1");
    ASSERT_TRUE(pop);
    EXPECT_FALSE(*pop);
    auto s = d->stats("lxm/c1");
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(s->memory_bytes, 8192u);
    EXPECT_EQ(s->cpu_usage_ns, 1500000u);
    EXPECT_EQ(s->pids, 2u);
    // A cgroup that stays populated times out with a clear error.
    touch(f.file("cgroup.events"), "populated 1\nfrozen 0\n");
    r = d->kill_all("lxm/c1", std::chrono::milliseconds(50));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::timed_out);
}

TEST(CgroupV2Fake, ContainerMountsIsOneCgroup2) {
    FakeV2 f;
    auto m = f.driver()->container_mounts("lxm/c1");
    ASSERT_TRUE(m);
    ASSERT_EQ(m->size(), 1u);
    EXPECT_EQ((*m)[0].fstype, "cgroup2");
    EXPECT_EQ((*m)[0].target, "");
    EXPECT_FALSE((*m)[0].is_symlink);
}
