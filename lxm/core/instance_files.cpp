#include "lxm/core/instance_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/safe_path.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;
using base::UniqueFd;

namespace {

struct Split {
    std::string parent;  // "/..." inside the container
    std::string leaf;    // one component, not "." or ".."
};

Result<Split> split_path(const std::string& path_in) {
    if (path_in.empty()) return http_error(400, "Missing path");
    // Clients (lxc file pull) may send "root/x": paths are always taken from the container's "/".
    const std::string path = path_in[0] == '/' ? path_in : "/" + path_in;
    if (path.size() > 4096) return http_error(400, "The path is too long");
    if (path.find('\0') != std::string::npos) return http_error(400, "The path contains a NUL byte");
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p == "/") return Split{"/", ""};
    auto slash = p.rfind('/');
    Split s{slash == 0 ? "/" : p.substr(0, slash), p.substr(slash + 1)};
    if (s.leaf == "." || s.leaf == "..") return http_error(400, "The path must not end in . or ..");
    return s;
}

base::Unexpected map_errno(const base::Error& e, const std::string& path) {
    if (e.code == std::errc::no_such_file_or_directory) return http_error(404, "No such file or directory: " + path);
    if (e.code == std::errc::too_many_symbolic_link_levels)
        return http_error(400, path + ": refusing to follow a symlink as the last component");
    if (e.code == std::errc::not_a_directory) return http_error(400, path + ": a component is not a directory");
    if (e.code == std::errc::cross_device_link)
        return http_error(400, path + ": the path leaves the container root");
    return std::unexpected(e);
}

}  // namespace

Result<FileEntry> read_instance_path(const InstanceRoot& root, const std::string& path) {
    LXM_TRY(Split sp, split_path(path));
    (void)sp;
    // RESOLVE_IN_ROOT: a relative path resolves from the root fd like an absolute one.
    auto probe = base::open_in_root(root.root.get(), path, O_PATH | O_NOFOLLOW);
    if (!probe) return map_errno(probe.error(), path);
    struct stat st {};
    if (::fstat(probe->get(), &st) != 0) return base::errno_error("stat " + path);
    FileEntry e;
    e.uid = root.inside_id(st.st_uid);
    e.gid = root.inside_id(st.st_gid);
    e.mode = st.st_mode & 07777;
    if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlinkat(probe->get(), "", buf, sizeof buf);
        if (n < 0) return base::errno_error("readlink " + path);
        e.type = "symlink";
        e.content.assign(buf, static_cast<size_t>(n));
        return e;
    }
    if (S_ISDIR(st.st_mode)) {
        auto d = base::open_in_root(root.root.get(), path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!d) return map_errno(d.error(), path);
        DIR* dir = ::fdopendir(d->release());
        if (!dir) return base::errno_error("opendir " + path);
        while (auto* de = ::readdir(dir)) {
            std::string n = de->d_name;
            if (n != "." && n != "..") e.entries.push_back(n);
        }
        ::closedir(dir);
        std::sort(e.entries.begin(), e.entries.end());
        e.type = "directory";
        return e;
    }
    if (!S_ISREG(st.st_mode)) return http_error(400, path + ": not a regular file, directory or symlink");
    if (static_cast<size_t>(st.st_size) > kMaxFileRead) return http_error(400, path + ": file too large to transfer");
    auto f = base::open_in_root(root.root.get(), path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (!f) return map_errno(f.error(), path);
    e.type = "file";
    char buf[65536];
    for (;;) {
        LXM_TRY(size_t n, base::read_some(f->get(), buf, sizeof buf));
        if (n == 0) break;
        e.content.append(buf, n);
        if (e.content.size() > kMaxFileRead) return http_error(400, path + ": file too large to transfer");
    }
    return e;
}

Result<void> write_instance_path(const InstanceRoot& root, const std::string& path, const FileWrite& w) {
    LXM_TRY(Split sp, split_path(path));
    if (sp.leaf.empty()) return http_error(400, "Cannot write to /");
    auto parent = base::open_in_root(root.root.get(), sp.parent, O_PATH | O_DIRECTORY);
    if (!parent) return map_errno(parent.error(), sp.parent);
    uid_t uid = root.host_uid(w.uid);
    gid_t gid = root.host_uid(w.gid);
    const char* leaf = sp.leaf.c_str();
    if (w.type == "directory") {
        mode_t mode = w.mode < 0 ? 0755 : static_cast<mode_t>(w.mode & 07777);
        if (::mkdirat(parent->get(), leaf, mode) != 0 && errno != EEXIST) return base::errno_error("mkdir " + path);
        struct stat st {};
        if (::fstatat(parent->get(), leaf, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            return http_error(400, path + " exists and is not a directory");
        if (::fchownat(parent->get(), leaf, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return base::errno_error("chown " + path);
        UniqueFd d(::openat(parent->get(), leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d || ::fchmod(d.get(), mode) != 0) return base::errno_error("chmod " + path);
        return {};
    }
    if (w.type == "symlink") {
        if (w.content.empty()) return http_error(400, "A symlink needs a target");
        struct stat st {};
        if (::fstatat(parent->get(), leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (!S_ISLNK(st.st_mode)) return http_error(400, path + " exists and is not a symlink");
            if (::unlinkat(parent->get(), leaf, 0) != 0) return base::errno_error("replace " + path);
        }
        if (::symlinkat(w.content.c_str(), parent->get(), leaf) != 0) return base::errno_error("symlink " + path);
        if (::fchownat(parent->get(), leaf, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return base::errno_error("chown " + path);
        return {};
    }
    if (w.type != "file") return http_error(400, "Unknown file type \"" + w.type.substr(0, 32) + "\"");
    struct stat before {};
    bool existed = ::fstatat(parent->get(), leaf, &before, AT_SYMLINK_NOFOLLOW) == 0;
    if (existed && !S_ISREG(before.st_mode)) return http_error(400, path + " exists and is not a regular file");
    mode_t mode = w.mode < 0 ? (existed ? before.st_mode & 07777 : 0644) : static_cast<mode_t>(w.mode & 07777);
    // O_NOFOLLOW: a symlink swapped in as the leaf makes this fail instead of writing through it.
    int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (w.append ? O_APPEND : O_TRUNC);
    UniqueFd f(::openat(parent->get(), leaf, flags, mode));
    if (!f) {
        if (errno == ELOOP) return http_error(400, path + ": refusing to write through a symlink");
        return base::errno_error("open " + path);
    }
    struct stat st {};
    if (::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode)) return http_error(400, path + " is not a regular file");
    LXM_TRY_VOID(base::write_all(f.get(), w.content));
    if (::fchown(f.get(), uid, gid) != 0) return base::errno_error("chown " + path);
    if (::fchmod(f.get(), mode) != 0) return base::errno_error("chmod " + path);
    return {};
}

Result<void> delete_instance_path(const InstanceRoot& root, const std::string& path) {
    LXM_TRY(Split sp, split_path(path));
    if (sp.leaf.empty()) return http_error(400, "Cannot delete /");
    auto parent = base::open_in_root(root.root.get(), sp.parent, O_PATH | O_DIRECTORY);
    if (!parent) return map_errno(parent.error(), sp.parent);
    struct stat st {};
    if (::fstatat(parent->get(), sp.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return http_error(404, "No such file or directory: " + path);
    if (::unlinkat(parent->get(), sp.leaf.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
        if (errno == ENOTEMPTY) return http_error(400, path + ": directory not empty");
        return base::errno_error("delete " + path);
    }
    return {};
}

}  // namespace lxm::core
