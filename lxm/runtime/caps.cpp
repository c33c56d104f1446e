#include "lxm/runtime/caps.hpp"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

namespace lxm::runtime {

using base::errno_error;
using base::make_error;
using base::Result;

std::vector<cap_value_t> default_cap_drop(bool privileged) {
    if (!privileged) return {};
    return {CAP_SYS_TIME, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE};
}

Result<std::vector<cap_value_t>> parse_cap_names(const std::vector<std::string>& names) {
    std::vector<cap_value_t> out;
    for (const auto& raw : names) {
        std::string n;
        for (char c : raw) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        bool ok = !n.empty();
        for (char c : n)
            if (!((c >= 'a' && c <= 'z') || c == '_')) ok = false;  // no numbers, no spaces
        if (!ok) return make_error(std::errc::invalid_argument, "invalid capability name '" + raw + "'");
        if (!n.starts_with("cap_")) n = "cap_" + n;
        cap_value_t v = -1;
        if (cap_from_name(n.c_str(), &v) != 0 || v < 0)
            return make_error(std::errc::invalid_argument, "unknown capability '" + raw + "'");
        out.push_back(v);
    }
    return out;
}

std::string cap_name(cap_value_t cap) {
    char* s = cap_to_name(cap);
    if (!s) return std::to_string(cap);
    std::string out(s);
    cap_free(s);
    return out;
}

Result<void> drop_bounding_set(const std::vector<cap_value_t>& caps) {
    // Raw capget/capset: no libcap allocation in the child.
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &hdr, data) < 0) return errno_error("capget");

    bool inheritable_changed = false;
    for (cap_value_t cap : caps) {
        if (cap < 0) return make_error(std::errc::invalid_argument, "drop capability: negative value");
        // EINVAL from PR_CAPBSET_READ: the kernel does not know this capability.
        if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL) continue;
            return errno_error("PR_CAPBSET_READ " + cap_name(cap));
        }
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return errno_error("PR_CAPBSET_DROP " + cap_name(cap));
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0) < 0 && errno != EINVAL)
            return errno_error("PR_CAP_AMBIENT_LOWER " + cap_name(cap));
        unsigned idx = static_cast<unsigned>(cap) / 32, bit = static_cast<unsigned>(cap) % 32;
        if (idx < _LINUX_CAPABILITY_U32S_3 && (data[idx].inheritable & (1u << bit))) {
            data[idx].inheritable &= ~(1u << bit);
            inheritable_changed = true;
        }
    }
    if (inheritable_changed && ::syscall(SYS_capset, &hdr, data) < 0) return errno_error("capset inheritable");
    return {};
}

}  // namespace lxm::runtime
