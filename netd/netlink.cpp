#include "netd/netlink.hpp"

#include <fcntl.h>
#include <sched.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include <cstdlib>

#include "lxm/base/file.hpp"

namespace lxm::netd {

void NlSockDeleter::operator()(nl_sock* s) const noexcept { nl_socket_free(s); }
void NlCacheDeleter::operator()(nl_cache* c) const noexcept { nl_cache_free(c); }
void RtnlLinkDeleter::operator()(rtnl_link* l) const noexcept { rtnl_link_put(l); }
void RtnlAddrDeleter::operator()(rtnl_addr* a) const noexcept { rtnl_addr_put(a); }
void NlAddrDeleter::operator()(nl_addr* a) const noexcept { nl_addr_put(a); }

base::Unexpected nl_error(int nlerr, std::string context) {
    int e = nlerr < 0 ? -nlerr : nlerr;
    std::errc code = std::errc::io_error;
    switch (e) {
    case NLE_EXIST: code = std::errc::file_exists; break;
    case NLE_NODEV:
    case NLE_OBJ_NOTFOUND: code = std::errc::no_such_device; break;
    case NLE_PERM: code = std::errc::operation_not_permitted; break;
    case NLE_BUSY: code = std::errc::device_or_resource_busy; break;
    case NLE_INVAL:
    case NLE_RANGE: code = std::errc::invalid_argument; break;
    case NLE_NOMEM: code = std::errc::not_enough_memory; break;
    case NLE_OPNOTSUPP: code = std::errc::operation_not_supported; break;
    case NLE_NOADDR: code = std::errc::address_not_available; break;
    case NLE_AF_NOSUPPORT: code = std::errc::address_family_not_supported; break;
    default: break;
    }
    return base::make_error(code, std::move(context) + ": " + nl_geterror(e));
}

base::Result<NlSock> nl_route_connect() {
    NlSock sock(nl_socket_alloc());
    if (!sock) return base::make_error(std::errc::not_enough_memory, "nl_socket_alloc");
    if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) return nl_error(err, "connect NETLINK_ROUTE");
    // libnl sockets are CLOEXEC only when asked; set it on the fd.
    int fd = nl_socket_get_fd(sock.get());
    if (fd >= 0) {
        int fl = ::fcntl(fd, F_GETFD);
        if (fl >= 0) ::fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
    return sock;
}

base::Result<NlSock> nl_route_connect_in_netns(pid_t pid) {
    std::string what = "netns of pid " + std::to_string(pid);
    LXM_TRY(auto target, base::open_fd("/proc/" + std::to_string(pid) + "/ns/net", O_RDONLY | O_CLOEXEC));
    LXM_TRY(auto self, base::open_fd("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (::setns(target.get(), CLONE_NEWNET) != 0) return base::errno_error("setns into " + what);
    auto sock = nl_route_connect();
    // Returning to a namespace this thread was just in cannot fail; a thread left
    // in a container's namespace would be a security bug, so do not go on.
    if (::setns(self.get(), CLONE_NEWNET) != 0) std::abort();
    if (!sock) return std::unexpected(base::wrap(sock.error(), "netlink in " + what));
    return sock;
}

}  // namespace lxm::netd
