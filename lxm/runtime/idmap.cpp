#include "lxm/runtime/idmap.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>

#include "lxm/base/file.hpp"

namespace lxm::runtime {

using base::Result;

std::string format_id_map(const std::vector<IdMapEntry>& entries) {
    std::string out;
    for (const auto& e : entries)
        out += std::to_string(e.inside) + " " + std::to_string(e.outside) + " " + std::to_string(e.count) + "\n";
    return out;
}

IdMap make_idmap(uint32_t host_base, uint32_t size) {
    IdMap m;
    m.uid.push_back({0, host_base, size});
    m.gid.push_back({0, host_base, size});
    return m;
}

Result<void> write_id_maps(pid_t pid, const IdMap& map) {
    std::string dir = "/proc/" + std::to_string(pid);
    LXM_TRY_VOID(base::wrap(base::write_file(dir + "/uid_map", format_id_map(map.uid)), "write uid_map"));
    LXM_TRY_VOID(base::wrap(base::write_file(dir + "/gid_map", format_id_map(map.gid)), "write gid_map"));
    return {};
}

Result<base::UniqueFd> make_userns_fd(const IdMap& map) {
    // The child only has to exist in its new user namespace until we hold an fd to it.
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return base::errno_error("pipe");
    base::UniqueFd rd(pipefd[0]), wr(pipefd[1]);
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
    if (pid < 0) return base::errno_error("clone user namespace");
    if (pid == 0) {
        wr.reset();
        char c;
        (void)!::read(rd.get(), &c, 1);  // until the parent closes its end
        ::_exit(0);
    }
    rd.reset();
    auto reap = [&] {
        wr.reset();
        int st;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    };
    if (auto r = write_id_maps(pid, map); !r) {
        reap();
        return std::unexpected(r.error());
    }
    int fd = ::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC);
    int err = errno;
    reap();
    if (fd < 0) return base::errno_error("open user namespace", err);
    return base::UniqueFd(fd);
}

IdAllocator::IdAllocator(uint32_t pool_start, uint32_t pool_size, uint32_t block_size)
    : start_(pool_start), size_(pool_size), block_size_(block_size ? block_size : 65536) {}

bool IdAllocator::contains(uint32_t b) const {
    return b >= start_ && uint64_t(b) + block_size_ <= uint64_t(start_) + size_ && (b - start_) % block_size_ == 0;
}

Result<uint32_t> IdAllocator::allocate(const std::set<uint32_t>& used) const {
    for (uint64_t b = start_; b + block_size_ <= uint64_t(start_) + size_; b += block_size_)
        if (!used.count(static_cast<uint32_t>(b))) return static_cast<uint32_t>(b);
    return base::make_error(std::errc::no_space_on_device,
                            "id pool exhausted: all " + std::to_string(size_ / block_size_) +
                                " ranges of " + std::to_string(block_size_) + " ids are in use");
}

Result<std::pair<uint32_t, uint32_t>> parse_subid(std::string_view text, std::string_view user) {
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        auto c1 = line.find(':');
        if (c1 == std::string_view::npos || line.substr(0, c1) != user) continue;
        auto c2 = line.find(':', c1 + 1);
        if (c2 == std::string_view::npos) continue;
        uint32_t start = 0, count = 0;
        auto s = line.substr(c1 + 1, c2 - c1 - 1), n = line.substr(c2 + 1);
        if (std::from_chars(s.data(), s.data() + s.size(), start).ec != std::errc{} ||
            std::from_chars(n.data(), n.data() + n.size(), count).ec != std::errc{})
            continue;
        return std::pair{start, count};
    }
    return base::make_error(std::errc::no_such_file_or_directory, "no subordinate id range for " + std::string(user));
}

}  // namespace lxm::runtime
