#include "lxm/runtime/console.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "lxm/base/file.hpp"

namespace lxm::runtime {

using base::Result;

Result<Pty> open_console_pty(uid_t owner, gid_t owner_gid) {
    int m = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return base::errno_error("open pty master");
    Pty p;
    p.master.reset(m);
    if (::unlockpt(m) != 0) return base::errno_error("unlockpt");
    char name[128];
    if (::ptsname_r(m, name, sizeof name) != 0) return base::errno_error("ptsname");
    p.slave_path = name;
    if (::chown(name, owner, owner_gid) != 0) return base::errno_error("chown " + p.slave_path);
    if (::chmod(name, 0620) != 0) return base::errno_error("chmod " + p.slave_path);
    // Raw-ish: the log should see what init wrote, not an echo of what we typed.
    struct termios t;
    if (::tcgetattr(m, &t) == 0) {
        t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(m, TCSANOW, &t);
    }
    (void)set_winsize(m, 25, 80);
    return p;
}

Result<void> set_winsize(int fd, unsigned rows, unsigned cols) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(rows);
    ws.ws_col = static_cast<unsigned short>(cols);
    if (::ioctl(fd, TIOCSWINSZ, &ws) != 0) return base::errno_error("set window size");
    return {};
}

Result<ConsoleLog> ConsoleLog::open(const std::string& path, size_t max_bytes) {
    ConsoleLog l;
    LXM_TRY(l.fd_, base::open_fd(path, O_RDWR | O_CREAT | O_APPEND, 0600));
    struct stat st;
    if (::fstat(l.fd_.get(), &st) != 0) return base::errno_error("stat " + path);
    l.size_ = static_cast<size_t>(st.st_size);
    l.path_ = path;
    l.max_ = max_bytes < 4096 ? 4096 : max_bytes;
    return l;
}

Result<void> ConsoleLog::append(std::string_view data) {
    if (!fd_) return base::make_error(std::errc::bad_file_descriptor, "console log not open");
    LXM_TRY_VOID(base::write_all(fd_.get(), data));
    size_ += data.size();
    if (size_ > max_) return trim();
    return {};
}

Result<void> ConsoleLog::trim() {
    // Keep the newest half: read it, rewrite the file from the start.
    size_t keep = max_ / 2;
    std::string tail(keep, '\0');
    ssize_t n = ::pread(fd_.get(), tail.data(), keep, static_cast<off_t>(size_ - keep));
    if (n < 0) return base::errno_error("read console log");
    tail.resize(static_cast<size_t>(n));
    if (::ftruncate(fd_.get(), 0) != 0) return base::errno_error("truncate console log");
    LXM_TRY_VOID(base::write_all(fd_.get(), tail));
    size_ = tail.size();
    return {};
}

}  // namespace lxm::runtime
