#include "store/pool_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"

namespace lxm::store::poolfs {

using base::Result;

Result<void> check_name(const std::string& kind, const std::string& name) {
    if (name.empty() || name.size() > 255 || name.front() == '.' || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
        return base::make_error(std::errc::invalid_argument, "invalid " + kind + " name \"" + name + "\"");
    return {};
}

Result<std::string> make_temp_dir(const std::string& pool, const std::string& kind) {
    std::string tmpl = pool + "/tmp/" + kind + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) return base::errno_error("mkdtemp " + tmpl);
    std::string dir(buf.data());
    if (::chmod(dir.c_str(), 0711) != 0) {
        auto e = base::errno_error("chmod " + dir);
        ::rmdir(dir.c_str());
        return e;
    }
    return dir;
}

Result<void> clean_temp(const std::string& pool, const Remover& remove) {
    std::string tmp = pool + "/tmp";
    DIR* d = ::opendir(tmp.c_str());
    if (!d) {
        if (errno == ENOENT) return {};
        return base::errno_error("open " + tmp);
    }
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(d)) {
        if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
        names.emplace_back(de->d_name);
    }
    ::closedir(d);
    for (const auto& n : names) {
        // A copy helper of a killed daemon dies with it (pdeathsig) but may still be
        // finishing its last write: a directory that refills is tried again, for up to
        // 5 s (1 s was seen to be too short on a loaded machine).
        for (int attempt = 0;; ++attempt) {
            auto r = remove ? remove(tmp + "/" + n) : base::remove_tree(tmp + "/" + n);
            if (r) break;
            if (attempt >= 100 || r.error().code != std::errc::directory_not_empty) return r;
            ::usleep(50 * 1000);
        }
    }
    return {};
}

Result<void> rename_noreplace(const std::string& from, const std::string& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0)
        return base::errno_error("rename " + from + " to " + to);
    return {};
}

Result<void> rename_exchange(const std::string& a, const std::string& b) {
    if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) != 0)
        return base::errno_error("exchange " + a + " and " + b);
    return {};
}

Result<void> discard(const std::string& pool, const std::string& path, const Remover& remove) {
    LXM_TRY(std::string dir, make_temp_dir(pool, "discard"));
    std::string target = dir + "/x";
    if (::rename(path.c_str(), target.c_str()) != 0) {
        auto e = base::errno_error("move " + path + " aside");
        ::rmdir(dir.c_str());
        return e;
    }
    return remove ? remove(dir) : base::remove_tree(dir);
}

Result<void> copy_tree(const std::string& src, const std::string& dst) {
    struct stat st;
    if (::lstat(src.c_str(), &st) != 0) return base::errno_error("stat " + src);
    if (::lstat(dst.c_str(), &st) == 0) return base::make_error(std::errc::file_exists, "copy target " + dst);
    base::SpawnOptions o;
    // -a: recursive, no dereference, preserve mode/ownership/timestamps/links/xattrs.
    // cp dies with the daemon thread that started it, so a killed lxmd leaves no cp
    // writing into tmp/ while the next one empties it.
    o.argv = {"cp", "-a", "--reflink=auto", "--no-target-directory", "--", src, dst};
    o.die_with_parent = true;
    o.env = {"LC_ALL=C"};
    auto r = base::spawn_checked(o);
    if (!r) {
        (void)base::remove_tree(dst);
        return std::unexpected(base::wrap(r.error(), "copy " + src + " to " + dst));
    }
    return {};
}

namespace {

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (struct dirent* de = ::readdir(d))
        if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, "..")) out.emplace_back(de->d_name);
    ::closedir(d);
    return out;
}

}  // namespace

Result<void> clear_dir(const std::string& dir) {
    for (const auto& n : names_in(dir)) LXM_TRY_VOID(base::remove_tree(dir + "/" + n));
    return {};
}

Result<void> move_tree_into(const std::string& src, const std::string& dst, std::optional<uid_t> shift,
                            uint32_t range) {
    struct stat st;
    if (::lstat(src.c_str(), &st) != 0) return base::errno_error("stat " + src);
    if (!S_ISDIR(st.st_mode)) return base::make_error(std::errc::not_a_directory, src + " is not a directory");
    for (const auto& n : names_in(src)) {
        std::string from = src + "/" + n, to = dst + "/" + n;
        if (::rename(from.c_str(), to.c_str()) == 0) continue;
        if (errno != EXDEV) return base::errno_error("move " + from);
        LXM_TRY_VOID(copy_tree(from, to));
    }
    if (::lchown(dst.c_str(), st.st_uid, st.st_gid) != 0) return base::errno_error("chown " + dst);
    if (::chmod(dst.c_str(), st.st_mode & 07777) != 0) return base::errno_error("chmod " + dst);
    if (shift && *shift != 0) LXM_TRY_VOID(shift_tree(dst, 0, 0, *shift, *shift, range));
    return {};
}

namespace {

struct Shift {
    uid_t from_uid, to_uid;
    gid_t from_gid, to_gid;
    uint32_t range;

    uid_t uid(uid_t u) const { return (u >= from_uid && u - from_uid < range) ? u - from_uid + to_uid : u; }
    gid_t gid(gid_t g) const { return (g >= from_gid && g - from_gid < range) ? g - from_gid + to_gid : g; }
};

std::string fd_path(int dirfd, const char* name) {
    return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

Result<void> shift_one(int dirfd, const char* name, const struct stat& st, const Shift& s) {
    uid_t nu = s.uid(st.st_uid);
    gid_t ng = s.gid(st.st_gid);
    if (nu == st.st_uid && ng == st.st_gid) return {};
    std::string p = fd_path(dirfd, name);
    // chown drops file capabilities and (for non-dirs) setuid/setgid: save and put back.
    std::string caps;
    if (S_ISREG(st.st_mode)) {
        char buf[64];
        ssize_t n = ::lgetxattr(p.c_str(), "security.capability", buf, sizeof buf);
        if (n > 0) caps.assign(buf, static_cast<size_t>(n));
    }
    if (::fchownat(dirfd, name, nu, ng, AT_SYMLINK_NOFOLLOW) != 0) return base::errno_error(std::string("chown ") + name);
    if (S_ISLNK(st.st_mode)) return {};
    if ((st.st_mode & (S_ISUID | S_ISGID)) && ::fchmodat(dirfd, name, st.st_mode & 07777, 0) != 0)
        return base::errno_error(std::string("chmod ") + name);
    if (!caps.empty()) {
        if (caps.size() == XATTR_CAPS_SZ_3) {
            // v3 (namespaced) capabilities carry the host uid of the namespace's root.
            uint32_t rootid;
            std::memcpy(&rootid, caps.data() + XATTR_CAPS_SZ_2, sizeof rootid);
            rootid = s.uid(rootid);
            std::memcpy(caps.data() + XATTR_CAPS_SZ_2, &rootid, sizeof rootid);
        }
        if (::lsetxattr(p.c_str(), "security.capability", caps.data(), caps.size(), 0) != 0)
            return base::errno_error(std::string("restore capabilities of ") + name);
    }
    return {};
}

Result<void> shift_dir(int fd, const Shift& s, dev_t dev) {
    int dfd = ::dup(fd);
    if (dfd < 0) return base::errno_error("dup");
    DIR* d = ::fdopendir(dfd);
    if (!d) {
        ::close(dfd);
        return base::errno_error("fdopendir");
    }
    Result<void> res;
    while (struct dirent* de = ::readdir(d)) {
        if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
        struct stat st;
        if (::fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            res = base::errno_error(std::string("stat ") + de->d_name);
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) {
                res = base::make_error(std::errc::device_or_resource_busy,
                                       std::string("refusing to cross mount point ") + de->d_name);
                break;
            }
            int sub = ::openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                res = base::errno_error(std::string("open ") + de->d_name);
                break;
            }
            res = shift_dir(sub, s, dev);
            ::close(sub);
            if (!res) break;
        }
        res = shift_one(fd, de->d_name, st, s);
        if (!res) break;
    }
    ::closedir(d);
    return res;
}

}  // namespace

Result<void> shift_tree(const std::string& root, uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid,
                        uint32_t range) {
    Shift s{from_uid, to_uid, from_gid, to_gid, range};
    if (from_uid == to_uid && from_gid == to_gid) return {};
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return base::errno_error("open " + root);
    base::UniqueFd guard(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return base::errno_error("stat " + root);
    LXM_TRY_VOID(base::wrap(shift_dir(fd, s, st.st_dev), "shift owners in " + root));
    uid_t nu = s.uid(st.st_uid);
    gid_t ng = s.gid(st.st_gid);
    if ((nu != st.st_uid || ng != st.st_gid) && ::fchown(fd, nu, ng) != 0) return base::errno_error("chown " + root);
    if ((st.st_mode & (S_ISUID | S_ISGID)) && ::fchmod(fd, st.st_mode & 07777) != 0)
        return base::errno_error("chmod " + root);
    return {};
}

namespace {
Result<void> usage_dir(int fd, dev_t dev, uint64_t& total, std::set<std::pair<dev_t, ino_t>>& seen) {
    int dfd = ::dup(fd);
    if (dfd < 0) return base::errno_error("dup");
    DIR* d = ::fdopendir(dfd);
    if (!d) {
        ::close(dfd);
        return base::errno_error("fdopendir");
    }
    Result<void> res;
    while (struct dirent* de = ::readdir(d)) {
        if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
        struct stat st;
        if (::fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;  // raced with a delete
            res = base::errno_error(std::string("stat ") + de->d_name);
            break;
        }
        if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second) continue;
        total += static_cast<uint64_t>(st.st_blocks) * 512;
        if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
            int sub = ::openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) continue;
            res = usage_dir(sub, dev, total, seen);
            ::close(sub);
            if (!res) break;
        }
    }
    ::closedir(d);
    return res;
}
}  // namespace

Result<uint64_t> tree_usage(const std::string& root) {
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return base::errno_error("open " + root);
    base::UniqueFd guard(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return base::errno_error("stat " + root);
    uint64_t total = static_cast<uint64_t>(st.st_blocks) * 512;
    std::set<std::pair<dev_t, ino_t>> seen;
    LXM_TRY_VOID(base::wrap(usage_dir(fd, st.st_dev, total, seen), "usage of " + root));
    return total;
}

Result<PoolUsage> fs_usage(const std::string& path) {
    struct statvfs sv;
    if (::statvfs(path.c_str(), &sv) != 0) return base::errno_error("statvfs " + path);
    PoolUsage u;
    u.total_bytes = static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
    u.used_bytes = static_cast<uint64_t>(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
    return u;
}

Result<std::string> read_value(const std::string& path) {
    LXM_TRY(std::string v, base::read_file(path, 4096));
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    return v;
}

Result<void> write_value(const std::string& path, const std::string& value) {
    return base::write_file(path, value + "\n", true, 0644);
}

}  // namespace lxm::store::poolfs
