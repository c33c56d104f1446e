#include "lxm/runtime/seccomp.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "lxm/base/data_dir.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::runtime {

using base::errno_error;
using base::make_error;
using base::Result;
using nlohmann::json;

namespace {

constexpr int kMaxErrno = 4095;  // SECCOMP_RET_DATA carries errno up to MAX_ERRNO

struct ErrnoName {
    const char* name;
    int value;
};
constexpr ErrnoName kErrnoNames[] = {
    {"EPERM", EPERM},   {"ENOENT", ENOENT},         {"EINTR", EINTR},   {"EIO", EIO},
    {"ENXIO", ENXIO},   {"E2BIG", E2BIG},           {"ENOEXEC", ENOEXEC}, {"EBADF", EBADF},
    {"EAGAIN", EAGAIN}, {"ENOMEM", ENOMEM},         {"EACCES", EACCES}, {"EFAULT", EFAULT},
    {"EBUSY", EBUSY},   {"EEXIST", EEXIST},         {"ENODEV", ENODEV}, {"EINVAL", EINVAL},
    {"ENOSPC", ENOSPC}, {"ENOSYS", ENOSYS},         {"EOPNOTSUPP", EOPNOTSUPP},
    {"EAFNOSUPPORT", EAFNOSUPPORT}, {"EPROTONOSUPPORT", EPROTONOSUPPORT},
};

base::Unexpected bad(const std::string& where, const std::string& what) {
    return make_error(std::errc::invalid_argument, "seccomp policy: " + where + ": " + what);
}

// Reject keys we do not know: a typo must not silently drop a condition.
Result<void> check_keys(const json& obj, std::initializer_list<const char*> allowed, const std::string& where) {
    for (const auto& [key, _] : obj.items()) {
        bool ok = false;
        for (const char* a : allowed)
            if (key == a) ok = true;
        if (!ok) return bad(where, "unknown key '" + key + "'");
    }
    return {};
}

Result<uint64_t> parse_u64(const json& v, const std::string& where) {
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer()) {
        int64_t i = v.get<int64_t>();
        if (i < 0) return bad(where, "negative number");
        return static_cast<uint64_t>(i);
    }
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        int base = 10;
        std::string_view digits = s;
        if (digits.starts_with("0x") || digits.starts_with("0X")) {
            base = 16;
            digits.remove_prefix(2);
        }
        uint64_t out = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out, base);
        if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size())
            return bad(where, "not a number: '" + s + "'");
        return out;
    }
    return bad(where, "expected a number or a numeric string");
}

Result<int> parse_errno(const json& v, const std::string& where) {
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        for (const auto& e : kErrnoNames)
            if (s == e.name) return e.value;
        if (!s.empty() && s[0] >= '0' && s[0] <= '9') {
            LXM_TRY(uint64_t n, parse_u64(v, where));
            if (n < 1 || n > kMaxErrno) return bad(where, "errno out of range 1..4095");
            return static_cast<int>(n);
        }
        return bad(where, "unknown errno name '" + s + "'");
    }
    LXM_TRY(uint64_t n, parse_u64(v, where));
    if (n < 1 || n > kMaxErrno) return bad(where, "errno out of range 1..4095");
    return static_cast<int>(n);
}

Result<SeccompAction::Kind> parse_kind(const json& v, const std::string& where) {
    if (!v.is_string()) return bad(where, "action must be a string");
    std::string s = v.get<std::string>();
    if (s == "allow") return SeccompAction::Kind::Allow;
    if (s == "errno") return SeccompAction::Kind::Errno;
    if (s == "kill") return SeccompAction::Kind::Kill;
    if (s == "trap") return SeccompAction::Kind::Trap;
    if (s == "log") return SeccompAction::Kind::Log;
    return bad(where, "unknown action '" + s + "' (allow, errno, kill, trap, log)");
}

Result<SeccompArgCond::Op> parse_op(const json& v, const std::string& where) {
    if (!v.is_string()) return bad(where, "op must be a string");
    std::string s = v.get<std::string>();
    using Op = SeccompArgCond::Op;
    if (s == "eq") return Op::Eq;
    if (s == "ne") return Op::Ne;
    if (s == "lt") return Op::Lt;
    if (s == "le") return Op::Le;
    if (s == "gt") return Op::Gt;
    if (s == "ge") return Op::Ge;
    if (s == "masked_eq") return Op::MaskedEq;
    return bad(where, "unknown op '" + s + "' (eq, ne, lt, le, gt, ge, masked_eq)");
}

bool valid_syscall_name(const std::string& n) {
    if (n.empty() || n.size() > 64) return false;
    for (char c : n)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

Result<SeccompArgCond> parse_cond(const json& j, const std::string& where) {
    if (!j.is_object()) return bad(where, "argument condition must be an object");
    LXM_TRY_VOID(check_keys(j, {"index", "op", "value", "mask"}, where));
    SeccompArgCond c;
    if (!j.contains("index")) return bad(where, "missing 'index'");
    LXM_TRY(uint64_t idx, parse_u64(j["index"], where + ".index"));
    if (idx > 5) return bad(where, "index must be 0..5");
    c.index = static_cast<unsigned>(idx);
    if (!j.contains("op")) return bad(where, "missing 'op'");
    LXM_TRY(c.op, parse_op(j["op"], where + ".op"));
    if (!j.contains("value")) return bad(where, "missing 'value'");
    LXM_TRY(c.value, parse_u64(j["value"], where + ".value"));
    if (c.op == SeccompArgCond::Op::MaskedEq) {
        if (!j.contains("mask")) return bad(where, "masked_eq needs 'mask'");
        LXM_TRY(c.mask, parse_u64(j["mask"], where + ".mask"));
    } else if (j.contains("mask")) {
        return bad(where, "'mask' is only valid with op masked_eq");
    }
    return c;
}

Result<SeccompAction> parse_action(const json& obj, const std::string& where, SeccompAction dflt) {
    SeccompAction a = dflt;
    if (obj.contains("action")) {
        LXM_TRY(a.kind, parse_kind(obj["action"], where + ".action"));
        if (a.kind == SeccompAction::Kind::Errno) a.errno_value = EPERM;
    }
    if (obj.contains("errno")) {
        if (a.kind != SeccompAction::Kind::Errno) return bad(where, "'errno' is only valid with action errno");
        LXM_TRY(a.errno_value, parse_errno(obj["errno"], where + ".errno"));
    }
    if (a.kind != SeccompAction::Kind::Errno) a.errno_value = 0;
    return a;
}

uint32_t to_scmp(const SeccompAction& a) {
    switch (a.kind) {
        case SeccompAction::Kind::Allow: return SCMP_ACT_ALLOW;
        case SeccompAction::Kind::Errno: return SCMP_ACT_ERRNO(static_cast<uint16_t>(a.errno_value));
        case SeccompAction::Kind::Kill: return SCMP_ACT_KILL_PROCESS;
        case SeccompAction::Kind::Trap: return SCMP_ACT_TRAP;
        case SeccompAction::Kind::Log: return SCMP_ACT_LOG;
    }
    return SCMP_ACT_KILL_PROCESS;
}

scmp_compare to_scmp(SeccompArgCond::Op op) {
    using Op = SeccompArgCond::Op;
    switch (op) {
        case Op::Eq: return SCMP_CMP_EQ;
        case Op::Ne: return SCMP_CMP_NE;
        case Op::Lt: return SCMP_CMP_LT;
        case Op::Le: return SCMP_CMP_LE;
        case Op::Gt: return SCMP_CMP_GT;
        case Op::Ge: return SCMP_CMP_GE;
        case Op::MaskedEq: return SCMP_CMP_MASKED_EQ;
    }
    return SCMP_CMP_EQ;
}

// The compat ABIs a native arch can run (and so must filter).
std::vector<uint32_t> compat_arches_of(uint32_t native) {
    switch (native) {
        case SCMP_ARCH_X86_64: return {SCMP_ARCH_X86, SCMP_ARCH_X32};
        case SCMP_ARCH_AARCH64: return {SCMP_ARCH_ARM};
        case SCMP_ARCH_PPC64: return {SCMP_ARCH_PPC};
        case SCMP_ARCH_S390X: return {SCMP_ARCH_S390};
        case SCMP_ARCH_MIPS64: return {SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64N32};
        case SCMP_ARCH_MIPSEL64: return {SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64N32};
        case SCMP_ARCH_PARISC64: return {SCMP_ARCH_PARISC};
        default: return {};
    }
}

struct CtxDeleter {
    void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

}  // namespace

Result<SeccompPolicy> parse_seccomp_policy(std::string_view text) {
    json root;
    try {
        root = json::parse(text);
    } catch (const json::parse_error& e) {
        return make_error(std::errc::invalid_argument, std::string("seccomp policy: invalid JSON: ") + e.what());
    }
    if (!root.is_object()) return bad("top level", "expected an object");
    LXM_TRY_VOID(check_keys(root, {"version", "comment", "default_action", "errno", "compat_arches", "rules"},
                            "top level"));
    if (!root.contains("version") || !root["version"].is_number_integer() || root["version"].get<int64_t>() != 1)
        return bad("top level", "'version' must be 1");

    SeccompPolicy p;
    if (root.contains("default_action")) {
        LXM_TRY(p.default_action, parse_action(json{{"action", root["default_action"]}}, "default_action",
                                               p.default_action));
        if (root.contains("errno")) {
            if (p.default_action.kind != SeccompAction::Kind::Errno)
                return bad("top level", "'errno' is only valid with default_action errno");
            LXM_TRY(p.default_action.errno_value, parse_errno(root["errno"], "top level.errno"));
        }
    } else if (root.contains("errno")) {
        return bad("top level", "'errno' is only valid with default_action errno");
    }
    if (root.contains("compat_arches")) {
        if (!root["compat_arches"].is_boolean()) return bad("top level", "'compat_arches' must be a boolean");
        p.compat_arches = root["compat_arches"].get<bool>();
    }
    if (!root.contains("rules") || !root["rules"].is_array()) return bad("top level", "'rules' must be an array");

    size_t i = 0;
    for (const auto& r : root["rules"]) {
        std::string where = "rule " + std::to_string(i++);
        if (!r.is_object()) return bad(where, "must be an object");
        LXM_TRY_VOID(check_keys(r, {"name", "names", "action", "errno", "args", "comment"}, where));
        std::vector<std::string> names;
        if (r.contains("name") == r.contains("names")) return bad(where, "needs exactly one of 'name' or 'names'");
        if (r.contains("name")) {
            if (!r["name"].is_string()) return bad(where, "'name' must be a string");
            names.push_back(r["name"].get<std::string>());
        } else {
            if (!r["names"].is_array() || r["names"].empty()) return bad(where, "'names' must be a non-empty array");
            for (const auto& n : r["names"]) {
                if (!n.is_string()) return bad(where, "'names' must hold strings");
                names.push_back(n.get<std::string>());
            }
        }
        for (const auto& n : names)
            if (!valid_syscall_name(n)) return bad(where, "invalid syscall name '" + n + "'");

        LXM_TRY(SeccompAction action, parse_action(r, where, SeccompAction{}));
        if (action == p.default_action) return bad(where, "action is the same as the default action");

        std::vector<SeccompArgCond> args;
        if (r.contains("args")) {
            if (!r["args"].is_array()) return bad(where, "'args' must be an array");
            if (r["args"].size() > 6) return bad(where, "at most 6 argument conditions");
            size_t k = 0;
            for (const auto& a : r["args"]) {
                LXM_TRY(SeccompArgCond c, parse_cond(a, where + ".args[" + std::to_string(k++) + "]"));
                args.push_back(c);
            }
        }
        std::string comment;
        if (r.contains("comment")) {
            if (!r["comment"].is_string()) return bad(where, "'comment' must be a string");
            comment = r["comment"].get<std::string>();
        }
        for (auto& n : names) p.rules.push_back(SeccompRule{std::move(n), action, args, comment});
    }
    return p;
}

Result<SeccompPolicy> load_seccomp_policy(const std::string& path) {
    LXM_TRY(std::string text, base::read_file(path, 1024 * 1024));
    return base::wrap(parse_seccomp_policy(text), path);
}

std::string default_seccomp_policy_path() { return base::find_data_file("templates/seccomp/default.json"); }

Result<SeccompProgram> compile_seccomp(const SeccompPolicy& policy) {
    Ctx ctx(seccomp_init(to_scmp(policy.default_action)));
    if (!ctx) return make_error(std::errc::invalid_argument, "seccomp_init");
    // The child applies the filter itself; no_new_privs is not part of the program.
    if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0)
        return errno_error("seccomp_attr_set NNP", -rc);
    // A syscall from an ABI the filter does not cover kills the whole process, not one thread.
    if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc < 0)
        return errno_error("seccomp_attr_set bad-arch action", -rc);

    SeccompProgram prog;
    uint32_t native = seccomp_arch_native();
    prog.arches.push_back(native);
    if (policy.compat_arches) {
        for (uint32_t arch : compat_arches_of(native)) {
            int rc = seccomp_arch_add(ctx.get(), arch);
            if (rc == -EEXIST) continue;
            if (rc < 0) {
                // An old libseccomp may lack the arch: then it cannot filter it, and the
                // default bad-arch action (kill) covers it.
                LXM_DEBUG("seccomp: compat arch {:#x} not added: {}", arch, -rc);
                continue;
            }
            prog.arches.push_back(arch);
        }
    }

    for (const auto& rule : policy.rules) {
        int nr = seccomp_syscall_resolve_name(rule.name.c_str());
        if (nr == __NR_SCMP_ERROR) {
            LXM_DEBUG("seccomp: syscall '{}' unknown to libseccomp, rule skipped", rule.name);
            prog.skipped.push_back(rule.name);
            continue;
        }
        std::vector<scmp_arg_cmp> cmps;
        for (const auto& c : rule.args) {
            scmp_arg_cmp cmp{};
            cmp.arg = c.index;
            cmp.op = to_scmp(c.op);
            if (c.op == SeccompArgCond::Op::MaskedEq) {
                cmp.datum_a = c.mask;
                cmp.datum_b = c.value;
            } else {
                cmp.datum_a = c.value;
            }
            cmps.push_back(cmp);
        }
        int rc = seccomp_rule_add_array(ctx.get(), to_scmp(rule.action), nr, static_cast<unsigned>(cmps.size()),
                                        cmps.empty() ? nullptr : cmps.data());
        if (rc < 0) return errno_error("seccomp rule for " + rule.name, -rc);
    }

    // Export through a memory fd: libseccomp 2.5 only writes BPF to an fd.
    base::UniqueFd mem(::memfd_create("lxm-seccomp-bpf", MFD_CLOEXEC));
    if (!mem) return errno_error("memfd_create for seccomp BPF");
    if (int rc = seccomp_export_bpf(ctx.get(), mem.get()); rc < 0) return errno_error("seccomp_export_bpf", -rc);
    off_t size = ::lseek(mem.get(), 0, SEEK_END);
    if (size < 0) return errno_error("lseek seccomp BPF");
    if (size == 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
        return make_error(std::errc::invalid_argument, "seccomp_export_bpf: odd program size " + std::to_string(size));
    size_t count = static_cast<size_t>(size) / sizeof(sock_filter);
    if (count > BPF_MAXINSNS)
        return make_error(std::errc::argument_out_of_domain,
                          "seccomp program has " + std::to_string(count) + " instructions (max 4096)");
    prog.filter.resize(count);
    char* dst = reinterpret_cast<char*>(prog.filter.data());
    size_t done = 0;
    while (done < static_cast<size_t>(size)) {
        ssize_t n = ::pread(mem.get(), dst + done, static_cast<size_t>(size) - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_error("read seccomp BPF");
        if (n == 0) return make_error(std::errc::io_error, "read seccomp BPF: short read");
        done += static_cast<size_t>(n);
    }
    return prog;
}

Result<void> apply_seccomp(const SeccompProgram& program) {
    struct sock_fprog fprog;
    fprog.len = static_cast<unsigned short>(program.filter.size());
    fprog.filter = const_cast<sock_filter*>(program.filter.data());
    if (program.filter.empty()) return make_error(std::errc::invalid_argument, "apply seccomp: empty program");
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
        return errno_error("seccomp(SECCOMP_SET_MODE_FILTER)");
    return {};
}

}  // namespace lxm::runtime
