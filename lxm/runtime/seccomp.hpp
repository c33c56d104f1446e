// Seccomp: a deny-list policy kept as data (templates/seccomp/default.json),
// compiled to classic BPF in the parent before clone (libseccomp does the
// heavy work and the per-architecture syscall numbers), applied in the child
// with one seccomp(2) call and no allocation.
//
// Policy JSON (unknown keys are errors, so typos do not silently weaken it):
//   {
//     "version": 1,
//     "default_action": "allow",                 // optional; same forms as a rule action
//     "compat_arches": true,                     // optional; also filter the native arch's
//                                                // compat ABIs (x86_64: x86 and x32)
//     "rules": [
//       { "names": ["kexec_load", "init_module"],  // or "name": "kexec_load"
//         "action": "errno",                       // errno | kill | trap | log | allow
//         "errno": "EPERM",                        // name or number 1..4095; default EPERM
//         "args": [ { "index": 1, "op": "masked_eq", "mask": 1, "value": 1 } ],
//         "comment": "why" }
//     ]
//   }
// Argument ops: eq ne lt le gt ge masked_eq (conditions of one rule are ANDed;
// "mask" only with masked_eq). Numbers may be JSON integers or strings ("0x8").
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::runtime {

struct SeccompAction {
    enum class Kind { Allow, Errno, Kill, Trap, Log };
    Kind kind = Kind::Errno;
    int errno_value = 1;  // EPERM; only for Kind::Errno
    bool operator==(const SeccompAction&) const = default;
};

struct SeccompArgCond {
    enum class Op { Eq, Ne, Lt, Le, Gt, Ge, MaskedEq };
    unsigned index = 0;  // syscall argument 0..5
    Op op = Op::Eq;
    uint64_t value = 0;
    uint64_t mask = 0;  // MaskedEq: (arg & mask) == value
    bool operator==(const SeccompArgCond&) const = default;
};

// One syscall (a JSON rule with several names becomes several of these).
struct SeccompRule {
    std::string name;
    SeccompAction action;
    std::vector<SeccompArgCond> args;
    std::string comment;
};

struct SeccompPolicy {
    SeccompAction default_action{SeccompAction::Kind::Allow, 0};
    bool compat_arches = true;
    std::vector<SeccompRule> rules;
};

// The compiled filter, ready for the child. Holds the BPF instructions for
// the native arch and (when asked) its compat arches.
struct SeccompProgram {
    std::vector<sock_filter> filter;
    std::vector<uint32_t> arches;       // SCMP_ARCH_* tokens in the filter
    std::vector<std::string> skipped;   // rule names libseccomp does not know (skipped)
};

// Parse the policy text. Errors name the rule index and the offending key.
lxm::base::Result<SeccompPolicy> parse_seccomp_policy(std::string_view json);
// Read and parse a policy file.
lxm::base::Result<SeccompPolicy> load_seccomp_policy(const std::string& path);
// templates/seccomp/default.json: the installed data dir first, then the source tree.
std::string default_seccomp_policy_path();

// Parent side: build the BPF with libseccomp and export it. Syscall names that
// libseccomp does not know are skipped (debug log, listed in skipped); any other
// failure is an error.
lxm::base::Result<SeccompProgram> compile_seccomp(const SeccompPolicy& policy);

// Child side: install the filter with seccomp(SECCOMP_SET_MODE_FILTER, 0, ...).
// Does not set no_new_privs: the caller must have CAP_SYS_ADMIN in its user
// namespace (the container child is root there); otherwise the kernel says EACCES.
// Does not allocate on success.
lxm::base::Result<void> apply_seccomp(const SeccompProgram& program);

}  // namespace lxm::runtime
