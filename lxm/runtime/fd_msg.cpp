#include "lxm/runtime/fd_msg.hpp"

#include <sys/socket.h>

#include <cstring>

namespace lxm::runtime {

base::Result<void> send_message(int sock, const nlohmann::json& body, const std::vector<int>& fds) {
    std::string data = body.dump();
    if (data.size() > kMaxMessage) return base::make_error(std::errc::message_size, "monitor message too large");
    if (fds.size() > kMaxFds) return base::make_error(std::errc::invalid_argument, "too many fds in one message");
    struct iovec iov {data.data(), data.size()};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
    if (!fds.empty()) {
        std::memset(cbuf, 0, sizeof cbuf);
        msg.msg_control = cbuf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n >= 0) return {};
        if (errno != EINTR) return base::errno_error("send monitor message");
    }
}

base::Result<FdMessage> recv_message(int sock) {
    std::string data(kMaxMessage, '\0');
    struct iovec iov {data.data(), data.size()};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ssize_t n;
    for (;;) {
        n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n >= 0) break;
        if (errno != EINTR) return base::errno_error("receive monitor message");
    }
    FdMessage out;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            out.fds.emplace_back(fd);
        }
    }
    if (n == 0) return base::make_error(std::errc::broken_pipe, "monitor connection closed");
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return base::make_error(std::errc::message_size, "monitor message truncated");
    data.resize(static_cast<size_t>(n));
    out.body = nlohmann::json::parse(data, nullptr, false);
    if (out.body.is_discarded() || !out.body.is_object())
        return base::make_error(std::errc::bad_message, "monitor message is not a JSON object");
    return out;
}

}  // namespace lxm::runtime
