#include "store/archive_unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>

#include "lxm/base/unique_fd.hpp"

namespace lxm::store {

using base::Result;
using base::UniqueFd;

namespace {

struct ArchiveReadDeleter {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<struct archive, ArchiveReadDeleter>;

Result<ArchiveReader> open_reader(const std::string& path) {
    ArchiveReader a(archive_read_new());
    if (!a) return base::make_error(std::errc::not_enough_memory, "archive_read_new");
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_filename(a.get(), path.c_str(), 1024 * 1024) != ARCHIVE_OK)
        return base::make_error(std::errc::invalid_argument,
                                "open tarball " + path + ": " + archive_error_string(a.get()));
    return a;
}

base::Unexpected archive_failure(struct archive* a, const std::string& what) {
    const char* msg = archive_error_string(a);
    int err = archive_errno(a);
    std::string ctx = what + ": " + (msg ? msg : "unknown libarchive error");
    if (err > 0) return base::errno_error(ctx, err);
    return base::make_error(std::errc::io_error, ctx);
}

base::Unexpected refuse(const std::string& why) {
    return base::make_error(std::errc::permission_denied, "hostile tarball: " + why);
}

// "./a//b/" -> "a/b"; refuses absolute paths and "..". "" is the root.
Result<std::string> normalize(const char* raw) {
    if (!raw) return refuse("entry without a path");
    std::string s(raw);
    if (!s.empty() && s.front() == '/') return refuse("absolute path " + s);
    std::string out;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t next = s.find('/', pos);
        if (next == std::string::npos) next = s.size();
        std::string comp = s.substr(pos, next - pos);
        pos = next + 1;
        if (comp.empty() || comp == ".") continue;
        if (comp == "..") return refuse("\"..\" in " + s);
        if (!out.empty()) out += '/';
        out += comp;
    }
    return out;
}

// The path relative to the target, or nullopt when the entry is outside prefix.
Result<std::optional<std::string>> relative(const char* raw, const std::string& prefix) {
    LXM_TRY(std::string n, normalize(raw));
    if (prefix.empty()) return std::optional<std::string>(n);
    if (n == prefix) return std::optional<std::string>(std::string());
    if (n.size() > prefix.size() && n.compare(0, prefix.size(), prefix) == 0 && n[prefix.size()] == '/')
        return std::optional<std::string>(n.substr(prefix.size() + 1));
    return std::optional<std::string>();
}

Result<UniqueFd> open_beneath(int root, const std::string& rel, int flags, const std::string& entry) {
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    long fd = ::syscall(SYS_openat2, root, rel.empty() ? "." : rel.c_str(), &how, sizeof how);
    if (fd < 0) {
        if (errno == ELOOP) return refuse(entry + ": path goes through a symlink");
        if (errno == EXDEV) return refuse(entry + ": path leaves the target");
        return base::errno_error("open " + rel + " for " + entry);
    }
    return UniqueFd(static_cast<int>(fd));
}

// The parent directory of an entry, creating missing directories (0755, owned
// by the caller) as tar does for archives without directory entries.
Result<UniqueFd> open_parent(int root, const std::string& parent_rel, const std::string& entry) {
    auto fd = open_beneath(root, parent_rel, O_PATH | O_DIRECTORY, entry);
    if (fd || fd.error().code != std::errc::no_such_file_or_directory) return fd;
    UniqueFd cur;
    LXM_TRY(cur, open_beneath(root, "", O_PATH | O_DIRECTORY, entry));
    size_t pos = 0;
    while (pos < parent_rel.size()) {
        size_t next = parent_rel.find('/', pos);
        if (next == std::string::npos) next = parent_rel.size();
        std::string comp = parent_rel.substr(pos, next - pos);
        pos = next + 1;
        if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
            return base::errno_error("mkdir " + comp + " for " + entry);
        LXM_TRY(UniqueFd sub, open_beneath(cur.get(), comp, O_PATH | O_DIRECTORY, entry));
        cur = std::move(sub);
    }
    return cur;
}

std::pair<std::string, std::string> split(const std::string& rel) {
    auto p = rel.rfind('/');
    if (p == std::string::npos) return {"", rel};
    return {rel.substr(0, p), rel.substr(p + 1)};
}

// Make room for a new non-directory entry named name in dir.
Result<void> clear_slot(int dir, const std::string& name, const std::string& entry) {
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return {};
        return base::errno_error("stat " + entry);
    }
    int flags = S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0;
    if (::unlinkat(dir, name.c_str(), flags) != 0) {
        if (errno == ENOTEMPTY || errno == EEXIST) return refuse(entry + " replaces a non-empty directory");
        return base::errno_error("replace " + entry);
    }
    return {};
}

class Extractor {
public:
    Extractor(struct archive* a, int root, const UnpackOptions& opts, UnpackReport& report)
        : a_(a), root_(root), opts_(opts), report_(report) {}

    Result<void> entry(struct archive_entry* e, const std::string& rel) {
        std::string shown = rel.empty() ? "." : rel;
        ++report_.entries;
        if (const char* link = archive_entry_hardlink(e)) return hardlink(link, rel, shown);
        mode_t type = archive_entry_filetype(e);
        if (rel.empty()) {
            if (type != AE_IFDIR) return refuse("the root entry is not a directory");
            LXM_TRY_VOID(apply_fd(root_, e, shown));
            dir_times_.push_back({rel, times(e)});
            return {};
        }
        auto [parent_rel, name] = split(rel);
        LXM_TRY(UniqueFd parent, open_parent(root_, parent_rel, shown));
        int dir = parent.get();
        switch (type) {
        case AE_IFDIR: {
            struct stat st;
            if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
                LXM_TRY_VOID(clear_slot(dir, name, shown));
            if (::mkdirat(dir, name.c_str(), 0700) != 0 && errno != EEXIST) return base::errno_error("mkdir " + shown);
            int fd = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) return base::errno_error("open " + shown);
            UniqueFd d(fd);
            LXM_TRY_VOID(apply_fd(d.get(), e, shown));
            dir_times_.push_back({rel, times(e)});
            return {};
        }
        case AE_IFREG: {
            LXM_TRY_VOID(clear_slot(dir, name, shown));
            int fd = ::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0) return base::errno_error("create " + shown);
            UniqueFd f(fd);
            LXM_TRY_VOID(copy_data(f.get(), archive_entry_size(e), shown));
            LXM_TRY_VOID(apply_fd(f.get(), e, shown));
            auto ts = times(e);
            ::futimens(f.get(), ts.data());
            return {};
        }
        case AE_IFLNK: {
            const char* target = archive_entry_symlink(e);
            if (!target) return refuse(shown + ": symlink without a target");
            LXM_TRY_VOID(clear_slot(dir, name, shown));
            if (::symlinkat(target, dir, name.c_str()) != 0) return base::errno_error("symlink " + shown);
            if (opts_.same_owner &&
                ::fchownat(dir, name.c_str(), archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) != 0)
                return base::errno_error("chown " + shown);
            auto ts = times(e);
            ::utimensat(dir, name.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW);
            return {};
        }
        case AE_IFIFO: {
            LXM_TRY_VOID(clear_slot(dir, name, shown));
            if (::mknodat(dir, name.c_str(), S_IFIFO | 0600, 0) != 0) return base::errno_error("mkfifo " + shown);
            // Never open a FIFO (it would block): set its metadata by name.
            if (opts_.same_owner &&
                ::fchownat(dir, name.c_str(), archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) != 0)
                return base::errno_error("chown " + shown);
            if (::fchmodat(dir, name.c_str(), archive_entry_perm(e) & 07777, 0) != 0)
                return base::errno_error("chmod " + shown);
            return {};
        }
        case AE_IFCHR:
            report_.skipped.push_back(shown + ": character device");
            return {};
        case AE_IFBLK:
            report_.skipped.push_back(shown + ": block device");
            return {};
        case AE_IFSOCK:
            report_.skipped.push_back(shown + ": socket");
            return {};
        default:
            report_.skipped.push_back(shown + ": unknown file type");
            return {};
        }
    }

    // Directory mtimes last (creating their entries changed them), deepest first.
    void finish() {
        for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
            auto fd = open_beneath(root_, it->first, O_RDONLY | O_DIRECTORY, it->first);
            if (fd) ::futimens(fd->get(), it->second.data());
        }
    }

private:
    using Times = std::array<struct timespec, 2>;

    static Times times(struct archive_entry* e) {
        Times t{};
        t[0].tv_nsec = UTIME_OMIT;
        if (archive_entry_atime_is_set(e)) {
            t[0].tv_sec = archive_entry_atime(e);
            t[0].tv_nsec = archive_entry_atime_nsec(e);
        }
        t[1].tv_sec = archive_entry_mtime(e);
        t[1].tv_nsec = archive_entry_mtime_nsec(e);
        return t;
    }

    Result<void> hardlink(const char* link, const std::string& rel, const std::string& shown) {
        LXM_TRY(auto target, relative(link, opts_.prefix));
        if (!target || target->empty()) return refuse(shown + ": hard link to " + link + " outside the tree");
        auto [sparent_rel, sname] = split(*target);
        LXM_TRY(UniqueFd sparent, open_beneath(root_, sparent_rel, O_PATH | O_DIRECTORY, shown));
        struct stat st;
        if (::fstatat(sparent.get(), sname.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            return refuse(shown + ": hard link to " + *target + ", which is not in the tree");
        if (S_ISDIR(st.st_mode)) return refuse(shown + ": hard link to a directory");
        if (rel.empty()) return refuse("hard link as the root entry");
        auto [parent_rel, name] = split(rel);
        LXM_TRY(UniqueFd parent, open_parent(root_, parent_rel, shown));
        LXM_TRY_VOID(clear_slot(parent.get(), name, shown));
        // flags 0: a symlink is linked itself, never followed.
        if (::linkat(sparent.get(), sname.c_str(), parent.get(), name.c_str(), 0) != 0)
            return base::errno_error("link " + shown);
        // A hard link entry may carry data (pax allows it): write it only into the linked inode.
        return {};
    }

    Result<void> copy_data(int fd, int64_t size, const std::string& shown) {
        const void* buf;
        size_t len;
        la_int64_t off;
        for (;;) {
            int r = archive_read_data_block(a_, &buf, &len, &off);
            if (r == ARCHIVE_EOF) break;
            if (r < ARCHIVE_WARN) return archive_failure(a_, "read " + shown);
            const char* p = static_cast<const char*>(buf);
            while (len > 0) {
                ssize_t n = ::pwrite(fd, p, len, off);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    return base::errno_error("write " + shown);
                }
                p += n;
                off += n;
                len -= static_cast<size_t>(n);
                report_.bytes += static_cast<uint64_t>(n);
            }
        }
        if (size >= 0 && ::ftruncate(fd, size) != 0) return base::errno_error("truncate " + shown);
        return {};
    }

    Result<void> apply_fd(int fd, struct archive_entry* e, const std::string& shown) {
        if (opts_.same_owner && ::fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) != 0)
            return base::errno_error("chown " + shown);
        if (::fchmod(fd, archive_entry_perm(e) & 07777) != 0) return base::errno_error("chmod " + shown);
        // After chown: chown drops security.capability.
        archive_entry_xattr_reset(e);
        const char* xname;
        const void* value;
        size_t size;
        while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
            if (::fsetxattr(fd, xname, value, size, 0) == 0) continue;
            if (errno == ENOTSUP || (!opts_.same_owner && (errno == EPERM || errno == EACCES))) {
                report_.skipped.push_back(shown + ": xattr " + xname + " (" + std::strerror(errno) + ")");
                continue;
            }
            return base::errno_error(std::string("set xattr ") + xname + " on " + shown);
        }
        return {};
    }

    struct archive* a_;
    int root_;
    const UnpackOptions& opts_;
    UnpackReport& report_;
    std::vector<std::pair<std::string, Times>> dir_times_;
};

}  // namespace

Result<UnpackReport> unpack_tarball(const std::string& tarball, const std::string& target_dir,
                                    const UnpackOptions& opts) {
    int rfd = ::open(target_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rfd < 0) return base::errno_error("open unpack target " + target_dir);
    UniqueFd root(rfd);
    LXM_TRY(ArchiveReader a, open_reader(tarball));
    UnpackReport report;
    Extractor x(a.get(), root.get(), opts, report);
    for (;;) {
        struct archive_entry* e;
        int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return archive_failure(a.get(), "read " + tarball);
        LXM_TRY(auto rel, relative(archive_entry_pathname(e), opts.prefix));
        if (!rel) continue;
        LXM_TRY_VOID(base::wrap(x.entry(e, *rel), "unpack " + tarball));
    }
    x.finish();
    return report;
}

namespace {
Result<std::string> read_current(struct archive* a, size_t limit, const std::string& what) {
    std::string out;
    char buf[16384];
    for (;;) {
        la_ssize_t n = archive_read_data(a, buf, sizeof buf);
        if (n < 0) return archive_failure(a, "read " + what);
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > limit) return base::make_error(std::errc::file_too_large, what + " is too large");
    }
    return out;
}
}  // namespace

Result<std::string> read_tar_member(const std::string& tarball, const std::string& member, size_t limit) {
    LXM_TRY(ArchiveReader a, open_reader(tarball));
    for (;;) {
        struct archive_entry* e;
        int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return archive_failure(a.get(), "read " + tarball);
        auto n = normalize(archive_entry_pathname(e));
        if (!n || *n != member) continue;
        if (archive_entry_filetype(e) != AE_IFREG)
            return base::make_error(std::errc::invalid_argument, member + " in " + tarball + " is not a regular file");
        return read_current(a.get(), limit, member);
    }
    return base::make_error(std::errc::no_such_file_or_directory, tarball + " has no " + member);
}

Result<std::vector<std::pair<std::string, std::string>>> read_tar_members_under(const std::string& tarball,
                                                                               const std::string& prefix, size_t limit) {
    LXM_TRY(ArchiveReader a, open_reader(tarball));
    std::vector<std::pair<std::string, std::string>> out;
    for (;;) {
        struct archive_entry* e;
        int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return archive_failure(a.get(), "read " + tarball);
        auto rel = relative(archive_entry_pathname(e), prefix);
        if (!rel || !*rel || (*rel)->empty() || archive_entry_filetype(e) != AE_IFREG) continue;
        LXM_TRY(std::string data, read_current(a.get(), limit, prefix + "/" + **rel));
        out.emplace_back(**rel, std::move(data));
    }
    return out;
}

Result<bool> tar_has_prefix(const std::string& tarball, const std::string& prefix) {
    LXM_TRY(ArchiveReader a, open_reader(tarball));
    for (;;) {
        struct archive_entry* e;
        int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF) return false;
        if (r < ARCHIVE_WARN) return archive_failure(a.get(), "read " + tarball);
        auto rel = relative(archive_entry_pathname(e), prefix);
        if (rel && *rel) return true;
    }
}

}  // namespace lxm::store
