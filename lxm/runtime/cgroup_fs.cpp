#include "lxm/runtime/cgroup_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <thread>

#include "lxm/base/file.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::runtime::cgroup_fs {

base::Result<std::string> read(const std::string& dir, const std::string& name) {
    LXM_TRY(auto text, base::read_file(dir + "/" + name, 1024 * 1024));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

base::Result<void> write(const std::string& dir, const std::string& name, std::string_view value) {
    std::string path = dir + "/" + name;
    // One value per write(2), newline-terminated as echo does. cgroupfs ignores O_APPEND (and any
    // offset); in a fake tree on a normal filesystem it makes the file a record of every write.
    std::string line(value);
    line += '\n';
    LXM_TRY(auto fd, base::open_fd(path, O_WRONLY | O_APPEND));
    for (;;) {
        ssize_t n = ::write(fd.get(), line.data(), line.size());
        if (n == static_cast<ssize_t>(line.size())) return {};
        if (n < 0 && errno == EINTR) continue;
        if (n >= 0) return base::make_error(std::errc::io_error, "short write of '" + std::string(value) + "' to " + path);
        return base::errno_error("write '" + std::string(value) + "' to " + path);
    }
}

bool exists(const std::string& dir, const std::string& name) { return base::path_exists(dir + "/" + name); }

base::Result<std::vector<std::string>> subdirs(const std::string& dir) {
    LXM_TRY(auto fd, base::open_fd(dir, O_RDONLY | O_DIRECTORY));
    DIR* d = ::fdopendir(fd.get());
    if (!d) return base::errno_error("opendir " + dir);
    fd.release();
    std::vector<std::string> out;
    while (struct dirent* de = ::readdir(d)) {
        if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = ::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        if (is_dir) out.emplace_back(de->d_name);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

namespace {
base::Result<void> collect_pids(const std::string& dir, std::vector<pid_t>& out, int depth) {
    if (depth > 64) return base::make_error(std::errc::too_many_links, "cgroup tree too deep at " + dir);
    LXM_TRY(auto text, read(dir, "cgroup.procs"));
    std::string_view rest = text;
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        if (line.empty()) continue;
        auto v = parse_u64(line);
        if (!v) return base::make_error(std::errc::bad_message, "bad pid '" + std::string(line) + "' in " + dir + "/cgroup.procs");
        out.push_back(static_cast<pid_t>(*v));
    }
    LXM_TRY(auto children, subdirs(dir));
    for (const auto& c : children) LXM_TRY_VOID(collect_pids(dir + "/" + c, out, depth + 1));
    return {};
}

base::Result<void> remove_at(const std::string& dir, int depth) {
    if (depth > 64) return base::make_error(std::errc::too_many_links, "cgroup tree too deep at " + dir);
    LXM_TRY(auto children, subdirs(dir));
    for (const auto& c : children) LXM_TRY_VOID(remove_at(dir + "/" + c, depth + 1));
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
        if (errno == EBUSY) return base::errno_error("rmdir " + dir + " (processes remain in it)");
        return base::errno_error("rmdir " + dir);
    }
    return {};
}
}  // namespace

base::Result<std::vector<pid_t>> subtree_pids(const std::string& dir) {
    std::vector<pid_t> out;
    LXM_TRY_VOID(collect_pids(dir, out, 0));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

base::Result<void> remove_tree(const std::string& dir) {
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno == ENOENT) return {};
        return base::errno_error("stat " + dir);
    }
    return remove_at(dir, 0);
}

std::optional<std::string> keyed_value(std::string_view text, std::string_view key) {
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ')
            return std::string(line.substr(key.size() + 1));
    }
    return std::nullopt;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

base::Result<void> wait_until(const std::function<base::Result<bool>()>& check, std::chrono::milliseconds timeout,
                              const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        LXM_TRY(bool done, check());
        if (done) return {};
        if (std::chrono::steady_clock::now() >= deadline)
            return base::make_error(std::errc::timed_out,
                                    "timed out after " + std::to_string(timeout.count()) + " ms waiting for " + what);
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
}

}  // namespace lxm::runtime::cgroup_fs
