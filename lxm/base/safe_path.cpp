#include "lxm/base/safe_path.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace lxm::base {

namespace {
Result<UniqueFd> do_openat2(int root_fd, const std::string& rel, int flags, mode_t mode, uint64_t resolve) {
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = resolve;
    std::string p = rel.empty() ? "." : rel;
    for (;;) {
        long fd = ::syscall(SYS_openat2, root_fd, p.c_str(), &how, sizeof how);
        if (fd >= 0) return UniqueFd(static_cast<int>(fd));
        if (errno == EINTR || errno == EAGAIN) continue;
        return errno_error("open " + p + " in container root");
    }
}
}  // namespace

Result<UniqueFd> open_in_root(int root_fd, const std::string& rel, int flags, mode_t mode) {
    return do_openat2(root_fd, rel, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

Result<UniqueFd> open_in_root_nofollow(int root_fd, const std::string& rel, int flags, mode_t mode) {
    return do_openat2(root_fd, rel, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

Result<UniqueFd> mkdir_in_root(int root_fd, const std::string& rel, mode_t mode) {
    UniqueFd cur;
    LXM_TRY(cur, open_in_root_nofollow(root_fd, ".", O_PATH | O_DIRECTORY));
    size_t pos = 0;
    while (pos < rel.size()) {
        size_t next = rel.find('/', pos);
        if (next == std::string::npos) next = rel.size();
        std::string part = rel.substr(pos, next - pos);
        pos = next + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") return make_error(std::errc::invalid_argument, "'..' in path " + rel);
        if (::mkdirat(cur.get(), part.c_str(), mode) != 0 && errno != EEXIST)
            return errno_error("mkdir " + rel);
        LXM_TRY(UniqueFd nxt, open_in_root_nofollow(cur.get(), part, O_PATH | O_DIRECTORY));
        cur = std::move(nxt);
    }
    return cur;
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace lxm::base
