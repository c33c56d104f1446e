// The container console: a pty whose master the monitor holds and whose slave
// becomes /dev/console inside; everything init writes lands in a bounded log.
#pragma once

#include <sys/types.h>

#include <string>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::runtime {

struct Pty {
    base::UniqueFd master;
    std::string slave_path;  // host path, e.g. /dev/pts/7
};

// A new pty on the host devpts; the slave is owned by (uid, gid) so container root can open it.
base::Result<Pty> open_console_pty(uid_t owner, gid_t owner_gid);

// Set the terminal size of a pty.
base::Result<void> set_winsize(int fd, unsigned rows, unsigned cols);

// Appends to a log file and keeps it under max_bytes: when it grows past the
// limit, the older half is dropped.
class ConsoleLog {
public:
    ConsoleLog() = default;
    static base::Result<ConsoleLog> open(const std::string& path, size_t max_bytes = 1 << 20);
    base::Result<void> append(std::string_view data);
    const std::string& path() const { return path_; }

private:
    base::Result<void> trim();
    base::UniqueFd fd_;
    std::string path_;
    size_t max_ = 0;
    size_t size_ = 0;
};

}  // namespace lxm::runtime
