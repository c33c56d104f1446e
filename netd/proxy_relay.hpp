// The userspace relay of a proxy device with nat=false (LXD's forkproxy mode):
// the listen side is a socket in the host's network namespace, every accepted
// connection gets a new connection made inside the instance's network namespace
// (and, for a unix connect address, its mount namespace), and bytes are copied
// both ways. So `connect=tcp:127.0.0.1:80` reaches a server bound only to the
// container's loopback.
//
//   auto ep = parse_relay_endpoint("tcp:127.0.0.1:8080");     // LXD's address syntax
//   auto relay = Relay::open({.listen = *l, .connect = *c, .target_pid = init_pid});
//   relay->enter_target();
//   relay->run();   // until SIGTERM/SIGINT or the target process exits
//
// Relay::open binds the listen socket in the caller's namespaces; enter_target() moves
// the calling process into the target's namespaces for good: it is meant for a fresh
// single-threaded process (lxm-proxy). One epoll loop, no threads; each direction
// of a connection has one bounded buffer and stops reading while it is full.
// stream <-> stream (tcp, unix in any mix) and udp <-> udp are served.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::netd {

struct RelayEndpoint {
    std::string proto;    // "tcp" | "udp" | "unix"
    std::string address;  // tcp/udp: IP literal (IPv6 without brackets), normalized
    bool ipv6 = false;
    uint16_t port = 0;
    std::string path;     // unix: an absolute path, or "@name" for an abstract socket

    bool stream() const { return proto != "udp"; }
    std::string to_string() const;  // back in LXD's syntax
};

// "tcp:1.2.3.4:80", "udp:[fd00::1]:53", "unix:/run/x.sock", "unix:@name". Errors are
// std::errc::invalid_argument with the reason only (callers add which key it was).
base::Result<RelayEndpoint> parse_relay_endpoint(const std::string& value);

// Whether two listen addresses take the same socket: same protocol and port with the
// same address or a wildcard on either side, or the same unix path.
bool relay_listens_overlap(const RelayEndpoint& a, const RelayEndpoint& b);

// Owner and mode of a unix listen socket bound at a path (LXD's uid, gid and mode keys of
// a proxy device; the extension proxy_unix_dac_properties). uid/gid -1: the relay's own (root).
struct ListenDac {
    int64_t uid = -1;
    int64_t gid = -1;
    uint32_t mode = 0644;  // LXD's default
    bool is_default() const { return uid < 0 && gid < 0 && mode == 0644; }
    // "" for the default, else "uid=N,gid=N,mode=0NNN" (uid/gid left out when unset).
    std::string to_string() const;
};

struct RelaySetup {
    RelayEndpoint listen;
    RelayEndpoint connect;
    pid_t target_pid = 0;  // the instance's init: its network namespace is entered
    ListenDac listen_dac{};  // a unix listen path only
};

// The record a running relay keeps of itself (lxm-proxy writes it before it serves and
// removes it when it ends): how lxmd finds and adopts relays across its own restarts.
struct RelayRecord {
    pid_t pid = 0;
    uint64_t starttime = 0;  // /proc/<pid>/stat field 22: tells a reused pid apart
    std::string listen, connect;
    pid_t target_pid = 0;
    std::string listen_dac;  // ListenDac::to_string() ("" in records of older relays: the default)
};
base::Result<void> write_relay_record(const std::string& path, const RelayRecord& rec);
base::Result<RelayRecord> read_relay_record(const std::string& path);
// Start time of a process (clock ticks since boot), 0 when it does not exist.
uint64_t process_starttime(pid_t pid);
// The record's process is alive, started when the record says, and is lxm-proxy
// serving that very record (its command line names it).
bool relay_record_live(const std::string& path, const RelayRecord& rec);

class Relay {
public:
    // Bind the listen socket (a unix socket left at the path by an earlier run is
    // replaced) and hold a pidfd of the target. A bind failure keeps its errno (EADDRINUSE...).
    static base::Result<Relay> open(const RelaySetup& setup);
    // Enter the target's network namespace (and mount namespace for a unix connect path).
    base::Result<void> enter_target();

    Relay(Relay&&) noexcept = default;
    Relay& operator=(Relay&&) noexcept = default;
    ~Relay();

    // Serve until SIGTERM/SIGINT (blocked here and read from a signalfd) or the target
    // process exits. Returns 0, or 1 after an error of the loop itself.
    int run();

private:
    Relay() = default;
    int run_stream();
    int run_datagram();

    RelaySetup setup_;
    base::UniqueFd listen_fd_;
    base::UniqueFd target_pidfd_;
    base::UniqueFd listen_dir_;    // unix listen: its directory on the host, to unlink at exit
    std::string listen_name_;
};

}  // namespace lxm::netd
