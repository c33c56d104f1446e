// Thin RAII over libnl-route-3: a connected NETLINK_ROUTE socket, owners for
// libnl objects and caches, and libnl error codes turned into lxm Errors.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "lxm/base/error.hpp"

struct nl_sock;
struct nl_cache;
struct rtnl_link;
struct rtnl_addr;
struct nl_addr;

namespace lxm::netd {

struct NlSockDeleter { void operator()(nl_sock* s) const noexcept; };
struct NlCacheDeleter { void operator()(nl_cache* c) const noexcept; };
struct RtnlLinkDeleter { void operator()(rtnl_link* l) const noexcept; };
struct RtnlAddrDeleter { void operator()(rtnl_addr* a) const noexcept; };
struct NlAddrDeleter { void operator()(nl_addr* a) const noexcept; };

using NlSock = std::unique_ptr<nl_sock, NlSockDeleter>;
using NlCache = std::unique_ptr<nl_cache, NlCacheDeleter>;
using RtnlLink = std::unique_ptr<rtnl_link, RtnlLinkDeleter>;
using RtnlAddr = std::unique_ptr<rtnl_addr, RtnlAddrDeleter>;
using NlAddr = std::unique_ptr<nl_addr, NlAddrDeleter>;

// A NETLINK_ROUTE socket connected in the caller's (thread's) network namespace.
base::Result<NlSock> nl_route_connect();

// A NETLINK_ROUTE socket connected inside the network namespace of pid. Only the
// calling thread enters that namespace, and returns before this function does
// (a netlink socket stays bound to the namespace it was created in).
base::Result<NlSock> nl_route_connect_in_netns(pid_t pid);

// Error from a negative libnl return code; the errc follows the kernel's meaning
// where libnl keeps it (EEXIST, ENODEV, EPERM, EBUSY, EINVAL...).
base::Unexpected nl_error(int nlerr, std::string context);

}  // namespace lxm::netd
