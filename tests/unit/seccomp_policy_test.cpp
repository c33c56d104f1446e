// Seccomp policy parsing and compilation, without the kernel: the compiled BPF
// runs in a small classic-BPF interpreter here against made-up syscalls.
#include <gtest/gtest.h>

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#include <cstring>

#include "lxm/base/file.hpp"
#include "lxm/runtime/seccomp.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::runtime;

namespace {

// Evaluate a seccomp classic-BPF program the way the kernel does (the subset
// of instructions libseccomp emits). Returns the full SECCOMP_RET_* value.
uint32_t run_bpf(const std::vector<sock_filter>& prog, const seccomp_data& d) {
    uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
    const auto* bytes = reinterpret_cast<const uint8_t*>(&d);
    size_t pc = 0;
    while (pc < prog.size()) {
        const sock_filter& in = prog[pc];
        uint32_t src = BPF_SRC(in.code) == BPF_X ? x : in.k;
        switch (BPF_CLASS(in.code)) {
            case BPF_LD:
                if (BPF_MODE(in.code) == BPF_ABS && BPF_SIZE(in.code) == BPF_W && in.k + 4 <= sizeof d)
                    std::memcpy(&a, bytes + in.k, 4);
                else if (BPF_MODE(in.code) == BPF_IMM)
                    a = in.k;
                else if (BPF_MODE(in.code) == BPF_MEM && in.k < BPF_MEMWORDS)
                    a = mem[in.k];
                else
                    throw std::runtime_error("bpf: unsupported load");
                ++pc;
                break;
            case BPF_LDX:
                if (BPF_MODE(in.code) == BPF_IMM)
                    x = in.k;
                else if (BPF_MODE(in.code) == BPF_MEM && in.k < BPF_MEMWORDS)
                    x = mem[in.k];
                else
                    throw std::runtime_error("bpf: unsupported ldx");
                ++pc;
                break;
            case BPF_ST: mem[in.k % BPF_MEMWORDS] = a; ++pc; break;
            case BPF_STX: mem[in.k % BPF_MEMWORDS] = x; ++pc; break;
            case BPF_ALU:
                switch (BPF_OP(in.code)) {
                    case BPF_ADD: a += src; break;
                    case BPF_SUB: a -= src; break;
                    case BPF_MUL: a *= src; break;
                    case BPF_OR: a |= src; break;
                    case BPF_AND: a &= src; break;
                    case BPF_XOR: a ^= src; break;
                    case BPF_LSH: a <<= src; break;
                    case BPF_RSH: a >>= src; break;
                    case BPF_NEG: a = -a; break;
                    default: throw std::runtime_error("bpf: unsupported alu");
                }
                ++pc;
                break;
            case BPF_JMP: {
                if (BPF_OP(in.code) == BPF_JA) {
                    pc += 1 + in.k;
                    break;
                }
                bool cond;
                switch (BPF_OP(in.code)) {
                    case BPF_JEQ: cond = a == src; break;
                    case BPF_JGT: cond = a > src; break;
                    case BPF_JGE: cond = a >= src; break;
                    case BPF_JSET: cond = (a & src) != 0; break;
                    default: throw std::runtime_error("bpf: unsupported jmp");
                }
                pc += 1 + (cond ? in.jt : in.jf);
                break;
            }
            case BPF_RET: return BPF_RVAL(in.code) == BPF_A ? a : in.k;
            case BPF_MISC:
                if (BPF_MISCOP(in.code) == BPF_TAX) x = a;
                else a = x;
                ++pc;
                break;
            default: throw std::runtime_error("bpf: unsupported class");
        }
    }
    throw std::runtime_error("bpf: fell off the end");
}

seccomp_data call(uint32_t arch, int nr, std::initializer_list<uint64_t> args = {}) {
    seccomp_data d{};
    d.arch = arch;
    d.nr = nr;
    size_t i = 0;
    for (uint64_t v : args) d.args[i++] = v;
    return d;
}

constexpr uint32_t kErrno(int e) { return SECCOMP_RET_ERRNO | static_cast<uint32_t>(e); }

SeccompPolicy default_policy() {
    auto text = lxm::base::read_file(lxm::test::source_dir() + "/templates/seccomp/default.json");
    EXPECT_TRUE(text);
    auto p = parse_seccomp_policy(*text);
    EXPECT_TRUE(p) << p.error().message();
    return *p;
}

std::string parse_error(std::string_view json) {
    auto p = parse_seccomp_policy(json);
    if (p) return "(parsed)";
    return p.error().message();
}

}  // namespace

TEST(SeccompPolicy, DefaultPolicyHasTheLxcIncusDenyList) {
    SeccompPolicy p = default_policy();
    EXPECT_EQ(p.default_action.kind, SeccompAction::Kind::Allow);
    EXPECT_TRUE(p.compat_arches);
    std::map<std::string, const SeccompRule*> by_name;
    for (const auto& r : p.rules) by_name[r.name] = &r;
    for (const char* n : {"kexec_load", "kexec_file_load", "open_by_handle_at", "init_module", "finit_module",
                          "delete_module"}) {
        ASSERT_TRUE(by_name.count(n)) << n;
        EXPECT_EQ(by_name[n]->action, (SeccompAction{SeccompAction::Kind::Errno, EPERM})) << n;
        EXPECT_TRUE(by_name[n]->args.empty()) << n;
    }
    ASSERT_TRUE(by_name.count("umount2"));
    const auto& um = *by_name["umount2"];
    EXPECT_EQ(um.action.errno_value, EACCES);
    ASSERT_EQ(um.args.size(), 1u);
    EXPECT_EQ(um.args[0], (SeccompArgCond{1, SeccompArgCond::Op::MaskedEq, MNT_FORCE, MNT_FORCE}));
    // What systemd needs inside must stay allowed.
    for (const char* n : {"mount", "bpf", "keyctl", "clone", "clone3", "unshare", "setns", "add_key"})
        EXPECT_FALSE(by_name.count(n)) << n << " must not be denied by default";
}

TEST(SeccompPolicy, DefaultPathFindsTheTemplate) {
    std::string path = default_seccomp_policy_path();
    EXPECT_TRUE(path.ends_with("/templates/seccomp/default.json")) << path;
    EXPECT_TRUE(lxm::base::path_exists(path)) << path;
    auto p = load_seccomp_policy(path);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_FALSE(p->rules.empty());
    auto missing = load_seccomp_policy("/nonexistent/lxm.json");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message().find("/nonexistent/lxm.json"), std::string::npos);
}

TEST(SeccompPolicy, ParsesActionsErrnosAndConditions) {
    auto p = parse_seccomp_policy(R"({
      "version": 1,
      "rules": [
        {"names": ["a1", "a2"]},
        {"name": "b", "action": "errno", "errno": 38},
        {"name": "c", "action": "kill"},
        {"name": "d", "action": "errno", "errno": "ENOSYS",
         "args": [{"index": 0, "op": "eq", "value": "0x10"}, {"index": 5, "op": "ge", "value": 7},
                  {"index": 2, "op": "masked_eq", "mask": 255, "value": "3"}]},
        {"name": "e", "action": "log", "comment": "x"}
      ]})");
    ASSERT_TRUE(p) << p.error().message();
    ASSERT_EQ(p->rules.size(), 6u);
    EXPECT_EQ(p->rules[0].name, "a1");
    EXPECT_EQ(p->rules[1].name, "a2");
    EXPECT_EQ(p->rules[1].action, (SeccompAction{SeccompAction::Kind::Errno, EPERM}));
    EXPECT_EQ(p->rules[2].action, (SeccompAction{SeccompAction::Kind::Errno, 38}));
    EXPECT_EQ(p->rules[3].action.kind, SeccompAction::Kind::Kill);
    EXPECT_EQ(p->rules[4].action.errno_value, ENOSYS);
    ASSERT_EQ(p->rules[4].args.size(), 3u);
    EXPECT_EQ(p->rules[4].args[0], (SeccompArgCond{0, SeccompArgCond::Op::Eq, 16, 0}));
    EXPECT_EQ(p->rules[4].args[1], (SeccompArgCond{5, SeccompArgCond::Op::Ge, 7, 0}));
    EXPECT_EQ(p->rules[4].args[2], (SeccompArgCond{2, SeccompArgCond::Op::MaskedEq, 3, 255}));
    EXPECT_EQ(p->rules[5].action.kind, SeccompAction::Kind::Log);
    EXPECT_EQ(p->rules[5].comment, "x");
}

TEST(SeccompPolicy, BadInputGivesClearErrors) {
    EXPECT_NE(parse_error("{").find("invalid JSON"), std::string::npos);
    EXPECT_NE(parse_error("[]").find("expected an object"), std::string::npos);
    EXPECT_NE(parse_error(R"({"rules": []})").find("'version' must be 1"), std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 2, "rules": []})").find("'version' must be 1"), std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1})").find("'rules' must be an array"), std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [], "rulez": []})").find("unknown key 'rulez'"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"nmae": "x"}]})").find("rule 0: unknown key 'nmae'"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"action": "errno"}]})").find("exactly one of"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "names": ["b"]}]})").find("exactly one of"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"names": []}]})").find("non-empty"), std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "Mount; rm"}]})").find("invalid syscall name"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "action": "deny"}]})").find("unknown action"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "errno": 0}]})").find("out of range"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "errno": 4096}]})").find("out of range"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "errno": "EWHAT"}]})").find("unknown errno"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "action": "kill", "errno": 1}]})")
                  .find("only valid with action errno"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "args": [{"index": 6, "op": "eq", "value": 1}]}]})")
                  .find("index must be 0..5"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "args": [{"index": 1, "op": "like", "value": 1}]}]})")
                  .find("unknown op 'like'"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "args": [{"index": 1, "op": "eq", "value": 1, "mask": 1}]}]})")
                  .find("only valid with op masked_eq"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "args": [{"index": 1, "op": "masked_eq", "value": 1}]}]})")
                  .find("needs 'mask'"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "args": [{"index": 1, "op": "eq", "value": -1}]}]})")
                  .find("negative"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "args": [{"index": 1, "op": "eq", "value": "0xzz"}]}]})")
                  .find("not a number"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a", "action": "allow"}]})")
                  .find("same as the default"),
              std::string::npos);
    // Errors say which rule.
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"name": "a"}, {"name": "b", "action": "x"}]})").find("rule 1"),
              std::string::npos);
}

TEST(SeccompCompile, SkipsSyscallsLibseccompDoesNotKnow) {
    auto p = parse_seccomp_policy(R"({"version": 1, "rules": [
        {"names": ["lxm_no_such_syscall", "kexec_load"]}]})");
    ASSERT_TRUE(p) << p.error().message();
    auto prog = compile_seccomp(*p);
    ASSERT_TRUE(prog) << prog.error().message();
    EXPECT_EQ(prog->skipped, std::vector<std::string>{"lxm_no_such_syscall"});
    EXPECT_EQ(run_bpf(prog->filter, call(AUDIT_ARCH_X86_64, SYS_kexec_load)), kErrno(EPERM));
}

#if defined(__x86_64__)
TEST(SeccompCompile, DefaultPolicyFiltersNativeAndCompatArches) {
    auto prog = compile_seccomp(default_policy());
    ASSERT_TRUE(prog) << prog.error().message();
    EXPECT_TRUE(prog->skipped.empty());
    ASSERT_FALSE(prog->filter.empty());
    EXPECT_LE(prog->filter.size(), static_cast<size_t>(BPF_MAXINSNS));
    EXPECT_EQ(prog->arches, (std::vector<uint32_t>{SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32}));

    const uint32_t x64 = AUDIT_ARCH_X86_64, i386 = AUDIT_ARCH_I386;
    // Native.
    for (int nr : {SYS_kexec_load, SYS_kexec_file_load, SYS_open_by_handle_at, SYS_init_module, SYS_finit_module,
                   SYS_delete_module})
        EXPECT_EQ(run_bpf(prog->filter, call(x64, nr)), kErrno(EPERM)) << "x86_64 nr " << nr;
    for (int nr : {SYS_getpid, SYS_mount, SYS_bpf, SYS_keyctl, SYS_clone, SYS_unshare, SYS_openat})
        EXPECT_EQ(run_bpf(prog->filter, call(x64, nr)), SECCOMP_RET_ALLOW) << "x86_64 nr " << nr;
    // umount2 only with MNT_FORCE (arg 1), whatever else is set.
    EXPECT_EQ(run_bpf(prog->filter, call(x64, SYS_umount2, {0, MNT_FORCE})), kErrno(EACCES));
    EXPECT_EQ(run_bpf(prog->filter, call(x64, SYS_umount2, {0, MNT_FORCE | MNT_DETACH})), kErrno(EACCES));
    EXPECT_EQ(run_bpf(prog->filter, call(x64, SYS_umount2, {0, MNT_DETACH})), SECCOMP_RET_ALLOW);
    EXPECT_EQ(run_bpf(prog->filter, call(x64, SYS_umount2, {0, 0})), SECCOMP_RET_ALLOW);

    // i386 (int 0x80 from any process): its own numbers (asm/unistd_32.h).
    EXPECT_EQ(run_bpf(prog->filter, call(i386, 283)), kErrno(EPERM));  // kexec_load
    EXPECT_EQ(run_bpf(prog->filter, call(i386, 128)), kErrno(EPERM));  // init_module
    EXPECT_EQ(run_bpf(prog->filter, call(i386, 129)), kErrno(EPERM));  // delete_module
    EXPECT_EQ(run_bpf(prog->filter, call(i386, 342)), kErrno(EPERM));  // open_by_handle_at
    EXPECT_EQ(run_bpf(prog->filter, call(i386, 350)), kErrno(EPERM));  // finit_module
    EXPECT_EQ(run_bpf(prog->filter, call(i386, 52, {0, MNT_FORCE})), kErrno(EACCES));  // umount2
    EXPECT_EQ(run_bpf(prog->filter, call(i386, 20)), SECCOMP_RET_ALLOW);   // getpid
    EXPECT_EQ(run_bpf(prog->filter, call(i386, 21)), SECCOMP_RET_ALLOW);   // mount
    EXPECT_EQ(run_bpf(prog->filter, call(i386, 246)), SECCOMP_RET_ALLOW);  // io_setup (x86_64's kexec_load nr)

    // x32: x86_64 audit arch with the x32 bit in the number.
    const int x32 = 0x40000000;
    EXPECT_EQ(run_bpf(prog->filter, call(x64, x32 + 528)), kErrno(EPERM));  // x32 kexec_load
    EXPECT_EQ(run_bpf(prog->filter, call(x64, x32 + SYS_init_module)), kErrno(EPERM));
    EXPECT_EQ(run_bpf(prog->filter, call(x64, x32 + SYS_getpid)), SECCOMP_RET_ALLOW);

    // An arch the filter does not know is killed, not let through.
    EXPECT_EQ(run_bpf(prog->filter, call(AUDIT_ARCH_AARCH64, 0)) & SECCOMP_RET_ACTION_FULL,
              SECCOMP_RET_KILL_PROCESS);
}

TEST(SeccompCompile, WithoutCompatArchesOtherAbisAreKilled) {
    auto p = default_policy();
    p.compat_arches = false;
    auto prog = compile_seccomp(p);
    ASSERT_TRUE(prog) << prog.error().message();
    EXPECT_EQ(prog->arches, std::vector<uint32_t>{SCMP_ARCH_X86_64});
    EXPECT_EQ(run_bpf(prog->filter, call(AUDIT_ARCH_I386, 20)) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_KILL_PROCESS);
    EXPECT_EQ(run_bpf(prog->filter, call(AUDIT_ARCH_X86_64, SYS_getpid)), SECCOMP_RET_ALLOW);
}
#endif

TEST(SeccompCompile, DefaultActionAndOtherActions) {
    auto p = parse_seccomp_policy(R"({"version": 1, "default_action": "errno", "errno": "ENOSYS",
        "compat_arches": false,
        "rules": [{"name": "getpid", "action": "allow"}, {"name": "getppid", "action": "kill"},
                  {"name": "gettid", "action": "trap"}, {"name": "getuid", "action": "log"}]})");
    ASSERT_TRUE(p) << p.error().message();
    auto prog = compile_seccomp(*p);
    ASSERT_TRUE(prog) << prog.error().message();
    uint32_t arch = AUDIT_ARCH_X86_64;
#if !defined(__x86_64__)
    GTEST_SKIP() << "syscall numbers below are x86_64's";
#endif
    EXPECT_EQ(run_bpf(prog->filter, call(arch, SYS_getpid)), SECCOMP_RET_ALLOW);
    EXPECT_EQ(run_bpf(prog->filter, call(arch, SYS_getppid)) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_KILL_PROCESS);
    EXPECT_EQ(run_bpf(prog->filter, call(arch, SYS_gettid)) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_TRAP);
    EXPECT_EQ(run_bpf(prog->filter, call(arch, SYS_getuid)), SECCOMP_RET_LOG);
    EXPECT_EQ(run_bpf(prog->filter, call(arch, SYS_read)), kErrno(ENOSYS));
}
