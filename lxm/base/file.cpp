#include "lxm/base/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace lxm::base {

Result<UniqueFd> open_fd(const std::string& path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return errno_error("open " + path);
    return UniqueFd(fd);
}

Result<size_t> read_some(int fd, char* buf, size_t len) {
    for (;;) {
        ssize_t n = ::read(fd, buf, len);
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return errno_error("read");
    }
}

Result<void> write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error("write");
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Result<std::string> read_file(const std::string& path, size_t limit) {
    LXM_TRY(auto fd, open_fd(path, O_RDONLY));
    std::string out;
    char buf[8192];
    for (;;) {
        auto n = read_some(fd.get(), buf, sizeof buf);
        if (!n) return std::unexpected(wrap(n.error(), "read " + path));
        if (*n == 0) break;
        out.append(buf, *n);
        if (out.size() > limit) return make_error(std::errc::file_too_large, "read " + path);
    }
    return out;
}

Result<void> write_file(const std::string& path, std::string_view data, bool create, mode_t mode) {
    int flags = O_WRONLY | O_TRUNC | (create ? O_CREAT : 0);
    LXM_TRY(auto fd, open_fd(path, flags, mode));
    auto r = write_all(fd.get(), data);
    if (!r) return std::unexpected(wrap(r.error(), "write " + path));
    return {};
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        LXM_TRY(auto fd, open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode));
        auto r = write_all(fd.get(), data);
        if (!r || ::fsync(fd.get()) != 0) {
            ::unlink(tmp.c_str());
            return r ? errno_error("fsync " + tmp) : std::unexpected(wrap(r.error(), "write " + tmp));
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto e = errno_error("rename " + tmp + " to " + path);
        ::unlink(tmp.c_str());
        return e;
    }
    return {};
}

Result<void> mkdir_p(const std::string& path, mode_t mode) {
    if (path.empty()) return {};
    std::string cur;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        cur = path.substr(0, pos);
        if (cur.empty()) continue;
        if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return errno_error("mkdir " + cur);
    }
    return {};
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

namespace {
Result<void> remove_at(int dirfd, const char* name, dev_t dev) {
    struct stat st;
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return {};
        return errno_error(std::string("stat ") + name);
    }
    if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != dev) return make_error(std::errc::device_or_resource_busy,
                                                std::string("refusing to cross mount point ") + name);
        int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return errno_error(std::string("open ") + name);
        DIR* d = ::fdopendir(fd);
        if (!d) {
            ::close(fd);
            return errno_error("fdopendir");
        }
        Result<void> res;
        while (struct dirent* de = ::readdir(d)) {
            if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
            res = remove_at(::dirfd(d), de->d_name, dev);
            if (!res) break;
        }
        ::closedir(d);
        if (!res) return res;
        if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0) return errno_error(std::string("rmdir ") + name);
        return {};
    }
    if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return errno_error(std::string("unlink ") + name);
    return {};
}
}  // namespace

Result<void> remove_tree(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return {};
        return errno_error("stat " + path);
    }
    return remove_at(AT_FDCWD, path.c_str(), st.st_dev);
}

}  // namespace lxm::base
