#include "lxm/runtime/sync.hpp"

#include <sys/socket.h>

#include <cstring>

namespace lxm::runtime {

const char* step_name(StartStep s) {
    switch (s) {
        case StartStep::ChildStarted: return "child started";
        case StartStep::MapsWritten: return "id maps and cgroup";
        case StartStep::RootfsReady: return "container filesystem";
        case StartStep::Confined: return "confinement";
        case StartStep::Exec: return "exec init";
        case StartStep::Error: return "error";
    }
    return "unknown step";
}

static base::Result<void> send_msg(int fd, const SyncMessage& m) {
    for (;;) {
        ssize_t n = ::send(fd, &m, sizeof m, MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(sizeof m)) return {};
        if (n < 0 && errno == EINTR) continue;
        return base::errno_error("sync send", n < 0 ? errno : EIO);
    }
}

base::Result<void> sync_send(int fd, StartStep step) {
    SyncMessage m{};
    m.step = step;
    return send_msg(fd, m);
}

base::Result<void> sync_send_error(int fd, StartStep failed, int err, const std::string& text) {
    SyncMessage m{};
    m.step = StartStep::Error;
    m.failed_step = failed;
    m.err = err;
    std::strncpy(m.text, text.c_str(), sizeof m.text - 1);
    return send_msg(fd, m);
}

base::Result<SyncMessage> sync_recv(int fd) {
    SyncMessage m{};
    for (;;) {
        ssize_t n = ::recv(fd, &m, sizeof m, 0);
        if (n == static_cast<ssize_t>(sizeof m)) return m;
        if (n == 0) return base::make_error(std::errc::broken_pipe, "sync socket closed");
        if (n < 0 && errno == EINTR) continue;
        return base::errno_error("sync recv", n < 0 ? errno : EPROTO);
    }
}

base::Result<void> sync_expect(int fd, StartStep step) {
    LXM_TRY(auto m, sync_recv(fd));
    if (m.step == StartStep::Error) {
        m.text[sizeof m.text - 1] = 0;
        std::string ctx = std::string(step_name(m.failed_step)) + ": " + m.text;
        return std::unexpected(base::Error{std::error_code(m.err, std::system_category()), ctx});
    }
    if (m.step != step)
        return base::make_error(std::errc::protocol_error, std::string("expected step '") + step_name(step) +
                                                               "', got '" + step_name(m.step) + "'");
    return {};
}

}  // namespace lxm::runtime
