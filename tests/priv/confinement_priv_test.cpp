// Seccomp and capability confinement against the real kernel. Every check runs
// in a forked child (the filter and the dropped capabilities die with it); the
// child reports failures as text over a pipe.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <sstream>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/runtime/apparmor.hpp"
#include "lxm/runtime/caps.hpp"
#include "lxm/runtime/seccomp.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::runtime;

namespace {

struct ChildOutcome {
    std::string report;  // empty: all checks passed
    int status = 0;      // raw wait status
};

// Run fn in a forked child; fn returns "" on success or a description of what failed.
ChildOutcome run_in_child(const std::function<std::string()>& fn) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {"pipe2 failed", -1};
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return {"fork failed", -1};
    }
    if (pid == 0) {
        ::close(fds[0]);
        // Children here may die by SIGSYS/SIGSEGV on purpose: leave no core files.
        struct rlimit no_core = {0, 0};
        ::setrlimit(RLIMIT_CORE, &no_core);
        ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        std::string msg;
        try {
            msg = fn();
        } catch (...) {
            msg = "exception in child";
        }
        (void)lxm::base::write_all(fds[1], msg);
        ::_exit(msg.empty() ? 0 : 1);
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return {out, status};
}

std::string status_line(const std::string& key) {
    auto s = lxm::base::read_file("/proc/self/status");
    if (!s) return {};
    std::istringstream in(*s);
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(key + ":")) {
            std::string v = line.substr(key.size() + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    return {};
}

uint64_t status_hex(const std::string& key) { return std::stoull(status_line(key), nullptr, 16); }

// errno of a raw syscall that should fail; 0 when it succeeded.
long errno_of(long ret) { return ret < 0 ? errno : 0; }

std::string expect_errno(const char* what, long got, long want) {
    if (got == want) return {};
    return std::string(what) + ": errno " + std::to_string(got) + " (" + std::strerror(static_cast<int>(got)) +
           "), want " + std::to_string(want) + "\n";
}

// The denied calls with arguments that fail harmlessly if the filter were absent.
long try_kexec_load() { return errno_of(::syscall(SYS_kexec_load, 0, 17, nullptr, 0xdead0000UL)); }
long try_open_by_handle_at() { return errno_of(::syscall(SYS_open_by_handle_at, -1, nullptr, 0)); }
long try_init_module() { return errno_of(::syscall(SYS_init_module, nullptr, 0, "")); }
long try_finit_module() { return errno_of(::syscall(SYS_finit_module, -1, "", 0)); }

lxm::base::Result<SeccompProgram> default_program() {
    LXM_TRY(SeccompPolicy p, load_seccomp_policy(lxm::test::source_dir() + "/templates/seccomp/default.json"));
    return compile_seccomp(p);
}

#if defined(__x86_64__)
// A 32-bit syscall from this 64-bit process: int 0x80 uses the i386 table and
// the i386 audit arch, which is what the compat part of the filter must catch.
long int80(long nr, long a1 = 0, long a2 = 0, long a3 = 0) {
    long ret;
    asm volatile("int $0x80"
                 : "=a"(ret)
                 : "a"(nr), "b"(a1), "c"(a2), "d"(a3)
                 : "memory", "r8", "r9", "r10", "r11");
    return ret;
}
constexpr long kI386Getpid = 20, kI386InitModule = 128, kI386KexecLoad = 283, kI386OpenByHandleAt = 342;
#endif

}  // namespace

TEST(SeccompPriv, DefaultPolicyDeniesDangerousSyscallsAndKeepsTheRest) {
    LXM_REQUIRE_ROOT();
    auto prog = default_program();
    ASSERT_TRUE(prog) << prog.error().message();

    // Control: without the filter these calls fail, but never with EPERM (this
    // kernel has no kexec/modules: ENOSYS; or EINVAL/EBADF/EFAULT from bad args), so
    // EPERM below can only come from the filter.
    auto control = run_in_child([] {
        std::string r;
        if (try_kexec_load() == EPERM) r += "kexec_load EPERM without filter\n";
        if (try_open_by_handle_at() == EPERM) r += "open_by_handle_at EPERM without filter\n";
        if (try_init_module() == EPERM) r += "init_module EPERM without filter\n";
        if (try_finit_module() == EPERM) r += "finit_module EPERM without filter\n";
        return r;
    });
    ASSERT_EQ(control.report, "") << "control run is not meaningful on this host";

    lxm::test::TempDir dir("seccomp");
    auto res = run_in_child([&] {
        std::string r;
        // A private mount namespace: the mount checks below touch nothing outside this child.
        if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS) failed");
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return std::string("make-rprivate failed");
        if (status_line("Seccomp") != "0") return "already filtered: Seccomp " + status_line("Seccomp");

        auto applied = apply_seccomp(*prog);
        if (!applied) return applied.error().message();

        if (status_line("Seccomp") != "2") r += "Seccomp: " + status_line("Seccomp") + ", want 2\n";
        if (status_line("Seccomp_filters") != "1") r += "Seccomp_filters: " + status_line("Seccomp_filters") + "\n";
        r += expect_errno("kexec_load", try_kexec_load(), EPERM);
        r += expect_errno("open_by_handle_at", try_open_by_handle_at(), EPERM);
        r += expect_errno("init_module", try_init_module(), EPERM);
        r += expect_errno("finit_module", try_finit_module(), EPERM);
        r += expect_errno("delete_module", errno_of(::syscall(SYS_delete_module, "lxmt_none", 0)), EPERM);

        // Still allowed: plain syscalls, mount (systemd mounts inside), plain umount.
        if (::syscall(SYS_getpid) != ::getpid()) r += "getpid broken\n";
        if (::mount("lxmt", dir.path().c_str(), "tmpfs", 0, "size=64k") != 0)
            r += std::string("mount tmpfs: ") + std::strerror(errno) + "\n";
        // reject_force_umount: MNT_FORCE is refused with EACCES, a plain umount works.
        r += expect_errno("umount2 MNT_FORCE", errno_of(::umount2(dir.path().c_str(), MNT_FORCE)), EACCES);
        if (::umount2(dir.path().c_str(), 0) != 0) r += std::string("umount2: ") + std::strerror(errno) + "\n";
        // A nested filter (systemd installs its own) is still possible.
        auto again = apply_seccomp(*prog);
        if (!again) r += "second filter: " + again.error().message() + "\n";
        else if (status_line("Seccomp_filters") != "2") r += "Seccomp_filters after nesting: " + status_line("Seccomp_filters") + "\n";
        return r;
    });
    EXPECT_EQ(res.report, "");
    EXPECT_TRUE(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0) << "status " << res.status;
    // The parent is untouched.
    EXPECT_EQ(status_line("Seccomp"), "0");
}

TEST(SeccompPriv, CompatSyscallsThroughInt80AreFilteredToo) {
    LXM_REQUIRE_ROOT();
#if !defined(__x86_64__)
    GTEST_SKIP() << "int 0x80 compat path is x86_64-only";
#else
    // Probe: without IA32 emulation, int 0x80 kills the caller (SIGSEGV): do it in a child.
    auto probe = run_in_child([] {
        return int80(kI386Getpid) == ::getpid() ? std::string() : std::string("int 0x80 getpid mismatch");
    });
    if (WIFSIGNALED(probe.status)) GTEST_SKIP() << "IA32 emulation is unavailable (int 0x80 killed the probe)";
    ASSERT_EQ(probe.report, "");

    auto control = run_in_child([] {
        std::string r;
        if (int80(kI386KexecLoad, 0, 17, 0) == -EPERM) r += "i386 kexec_load EPERM without filter\n";
        if (int80(kI386InitModule, 0, 0, 0) == -EPERM) r += "i386 init_module EPERM without filter\n";
        if (int80(kI386OpenByHandleAt, -1, 0, 0) == -EPERM) r += "i386 open_by_handle_at EPERM without filter\n";
        return r;
    });
    ASSERT_EQ(control.report, "") << "control run is not meaningful on this host";

    auto prog = default_program();
    ASSERT_TRUE(prog) << prog.error().message();
    auto res = run_in_child([&] {
        auto applied = apply_seccomp(*prog);
        if (!applied) return applied.error().message();
        std::string r;
        r += expect_errno("i386 kexec_load", -int80(kI386KexecLoad, 0, 17, 0), EPERM);
        r += expect_errno("i386 init_module", -int80(kI386InitModule, 0, 0, 0), EPERM);
        r += expect_errno("i386 open_by_handle_at", -int80(kI386OpenByHandleAt, -1, 0, 0), EPERM);
        if (int80(kI386Getpid) != ::getpid()) r += "i386 getpid is not allowed through\n";
        return r;
    });
    EXPECT_EQ(res.report, "");
    EXPECT_TRUE(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0) << "status " << res.status;
#endif
}

TEST(SeccompPriv, WithoutCompatArchesTheI386AbiIsKilled) {
    LXM_REQUIRE_ROOT();
#if !defined(__x86_64__)
    GTEST_SKIP() << "x86_64-only";
#else
    auto probe = run_in_child([] { return int80(kI386Getpid) == ::getpid() ? std::string() : std::string("x"); });
    if (WIFSIGNALED(probe.status)) GTEST_SKIP() << "IA32 emulation is unavailable";
    auto policy = load_seccomp_policy(lxm::test::source_dir() + "/templates/seccomp/default.json");
    ASSERT_TRUE(policy);
    policy->compat_arches = false;
    auto prog = compile_seccomp(*policy);
    ASSERT_TRUE(prog) << prog.error().message();
    auto res = run_in_child([&] {
        auto applied = apply_seccomp(*prog);
        if (!applied) return applied.error().message();
        int80(kI386Getpid);
        return std::string("survived an i386 syscall under a native-only filter");
    });
    EXPECT_EQ(res.report, "");
    EXPECT_TRUE(WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGSYS) << "status " << res.status;
#endif
}

TEST(CapsPriv, DropBoundingSetClearsBoundingInheritableAndAmbient) {
    LXM_REQUIRE_ROOT();
    std::vector<cap_value_t> drop = default_cap_drop(true);
    drop.push_back(CAP_NET_RAW);
    auto res = run_in_child([&] {
        std::string r;
        uint64_t before = status_hex("CapBnd");
        for (cap_value_t c : drop)
            if (!(before & (1ULL << c))) return "precondition: " + cap_name(c) + " not in CapBnd";
        // Put CAP_SYS_TIME and CAP_CHOWN into inheritable and ambient, to see the drop lower only SYS_TIME.
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
        if (::syscall(SYS_capget, &hdr, data) != 0) return std::string("capget");
        data[0].inheritable |= (1u << CAP_SYS_TIME) | (1u << CAP_CHOWN);
        if (::syscall(SYS_capset, &hdr, data) != 0) return std::string("capset");
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_TIME, 0, 0) != 0) return std::string("raise amb");
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0) != 0) return std::string("raise amb 2");

        auto d = drop_bounding_set(drop);
        if (!d) return d.error().message();

        uint64_t bnd = status_hex("CapBnd"), inh = status_hex("CapInh"), amb = status_hex("CapAmb");
        uint64_t dropped_mask = 0;
        for (cap_value_t c : drop) dropped_mask |= 1ULL << c;
        if (bnd & dropped_mask) r += "CapBnd still has dropped caps\n";
        if (bnd != (before & ~dropped_mask)) r += "CapBnd lost more than the dropped caps\n";
        if (inh & (1ULL << CAP_SYS_TIME)) r += "CapInh still has cap_sys_time\n";
        if (!(inh & (1ULL << CAP_CHOWN))) r += "CapInh lost cap_chown\n";
        if (amb & (1ULL << CAP_SYS_TIME)) r += "CapAmb still has cap_sys_time\n";
        if (!(amb & (1ULL << CAP_CHOWN))) r += "CapAmb lost cap_chown\n";
        if (::prctl(PR_CAPBSET_READ, CAP_SYS_MODULE, 0, 0, 0) != 0) r += "PR_CAPBSET_READ sys_module != 0\n";
        // Idempotent, and capabilities the kernel does not know are skipped.
        auto again = drop_bounding_set({CAP_SYS_TIME, 63});
        if (!again) r += "second drop: " + again.error().message() + "\n";
        return r;
    });
    EXPECT_EQ(res.report, "");
    EXPECT_TRUE(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0) << "status " << res.status;
}

TEST(CapsPriv, DropNeedsSetpcap) {
    LXM_REQUIRE_ROOT();
    auto res = run_in_child([] {
        if (::prctl(PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0) != 0) return std::string("drop setpcap");
        // Dropping from the bounding set only removes it from future execs; remove it from the effective set.
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
        if (::syscall(SYS_capget, &hdr, data) != 0) return std::string("capget");
        data[0].effective &= ~(1u << CAP_SETPCAP);
        data[0].permitted &= ~(1u << CAP_SETPCAP);
        if (::syscall(SYS_capset, &hdr, data) != 0) return std::string("capset");
        auto d = drop_bounding_set({CAP_NET_RAW});
        if (d) return std::string("drop without CAP_SETPCAP succeeded");
        if (d.error().message().find("PR_CAPBSET_DROP cap_net_raw") == std::string::npos)
            return "unexpected error: " + d.error().message();
        return std::string();
    });
    EXPECT_EQ(res.report, "");
}

TEST(ApparmorPriv, LoadAndUnloadAProfile) {
    LXM_REQUIRE_ROOT();
    if (std::string why = apparmor_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    auto tmpl = lxm::base::read_file(default_apparmor_template_path());
    ASSERT_TRUE(tmpl) << tmpl.error().message();
    ApparmorParams p;
    p.container_name = "lxmt-aa-load";
    auto text = render_apparmor_profile(*tmpl, p);
    ASSERT_TRUE(text) << text.error().message();
    const std::string name = apparmor_profile_name(p.container_name);
    auto loaded_names = [] {
        auto s = lxm::base::read_file("/sys/kernel/security/apparmor/profiles");
        return s ? *s : std::string();
    };
    // Unload even when an assertion below fails.
    lxm::base::Defer cleanup([&] { (void)unload_apparmor_profile(name); });
    auto loaded = load_apparmor_profile(*text);
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_NE(loaded_names().find(name + " ("), std::string::npos);
    // Loading again replaces it.
    EXPECT_TRUE(load_apparmor_profile(*text));
    auto unloaded = unload_apparmor_profile(name);
    EXPECT_TRUE(unloaded) << unloaded.error().message();
    EXPECT_EQ(loaded_names().find(name + " ("), std::string::npos);
    // Unloading what is not loaded is fine.
    EXPECT_TRUE(unload_apparmor_profile(name));
}
