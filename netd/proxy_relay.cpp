#include "netd/proxy_relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/file.hpp"

namespace lxm::netd {

using base::Result;
using base::UniqueFd;

// ---- addresses --------------------------------------------------------------------------------

namespace {

base::Unexpected invalid(const std::string& why) { return base::make_error(std::errc::invalid_argument, why); }

bool wildcard(const RelayEndpoint& e) { return e.address == "0.0.0.0" || e.address == "::"; }

}  // namespace

std::string ListenDac::to_string() const {
    if (is_default()) return "";
    std::string out;
    if (uid >= 0) out += "uid=" + std::to_string(uid) + ",";
    if (gid >= 0) out += "gid=" + std::to_string(gid) + ",";
    char m[16];
    std::snprintf(m, sizeof m, "mode=%04o", mode);
    return out + m;
}

std::string RelayEndpoint::to_string() const {
    if (proto == "unix") return "unix:" + path;
    return proto + ":" + (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

Result<RelayEndpoint> parse_relay_endpoint(const std::string& value) {
    RelayEndpoint e;
    auto colon = value.find(':');
    if (colon == std::string::npos) return invalid("no protocol");
    e.proto = value.substr(0, colon);
    std::string rest = value.substr(colon + 1);
    if (e.proto == "unix") {
        if (rest.empty() || (rest[0] != '/' && rest[0] != '@'))
            return invalid("a unix address is an absolute path or @name (abstract)");
        if (rest.size() >= sizeof(sockaddr_un{}.sun_path)) return invalid("unix socket path too long");
        if (rest.find('\0') != std::string::npos || rest == "@") return invalid("bad unix socket name");
        e.path = rest;
        return e;
    }
    if (e.proto != "tcp" && e.proto != "udp") return invalid("unknown protocol \"" + e.proto.substr(0, 16) + "\"");
    std::string addr, port;
    if (!rest.empty() && rest[0] == '[') {
        auto close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') return invalid("bad [IPv6]:PORT");
        addr = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
        e.ipv6 = true;
    } else {
        auto c = rest.rfind(':');
        if (c == std::string::npos) return invalid("no port");
        addr = rest.substr(0, c);
        port = rest.substr(c + 1);
    }
    unsigned char buf[16];
    if (e.ipv6 ? inet_pton(AF_INET6, addr.c_str(), buf) != 1 : inet_pton(AF_INET, addr.c_str(), buf) != 1)
        return invalid("\"" + addr.substr(0, 64) + "\" is not an IP" + (e.ipv6 ? "v6" : "v4") +
                       " address (host names are not resolved)");
    if (port.find_first_of("-,") != std::string::npos) return invalid("port ranges are not supported");
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || ptr != port.data() + port.size() || p < 1 || p > 65535) return invalid("port must be 1-65535");
    char norm[INET6_ADDRSTRLEN] = {};
    inet_ntop(e.ipv6 ? AF_INET6 : AF_INET, buf, norm, sizeof norm);
    e.address = norm;
    e.port = static_cast<uint16_t>(p);
    return e;
}

bool relay_listens_overlap(const RelayEndpoint& a, const RelayEndpoint& b) {
    if (a.proto != b.proto) return false;
    if (a.proto == "unix") return a.path == b.path;
    if (a.port != b.port) return false;
    if (a.address == b.address) return true;
    // "::" is dual-stack: it takes the port on IPv4 too.
    if (a.address == "::" || b.address == "::") return true;
    return a.ipv6 == b.ipv6 && (wildcard(a) || wildcard(b));
}

// ---- records ----------------------------------------------------------------------------------

Result<void> write_relay_record(const std::string& path, const RelayRecord& rec) {
    nlohmann::json j{{"pid", rec.pid},
                     {"starttime", rec.starttime},
                     {"listen", rec.listen},
                     {"connect", rec.connect},
                     {"target_pid", rec.target_pid}};
    if (!rec.listen_dac.empty()) j["listen_dac"] = rec.listen_dac;
    return base::write_file_atomic(path, j.dump() + "\n", 0600);
}

Result<RelayRecord> read_relay_record(const std::string& path) {
    LXM_TRY(std::string text, base::read_file(path, 64 * 1024));
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return base::make_error(std::errc::bad_message, "bad relay record " + path);
    RelayRecord r;
    r.pid = j.value("pid", 0);
    r.starttime = j.value("starttime", uint64_t{0});
    r.listen = j.value("listen", "");
    r.connect = j.value("connect", "");
    r.target_pid = j.value("target_pid", 0);
    r.listen_dac = j.value("listen_dac", "");
    if (r.pid <= 0) return base::make_error(std::errc::bad_message, "bad relay record " + path);
    return r;
}

uint64_t process_starttime(pid_t pid) {
    auto stat = base::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) return 0;
    // Fields after the command name (which may hold spaces and parens): state is field 3,
    // starttime field 22.
    auto close = stat->rfind(')');
    if (close == std::string::npos) return 0;
    size_t pos = close + 1;
    for (int field = 3; field <= 22; ++field) {
        while (pos < stat->size() && (*stat)[pos] == ' ') ++pos;
        size_t end = stat->find(' ', pos);
        if (end == std::string::npos) end = stat->size();
        if (field == 22) {
            uint64_t v = 0;
            std::from_chars(stat->data() + pos, stat->data() + end, v);
            return v;
        }
        pos = end;
    }
    return 0;
}

bool relay_record_live(const std::string& path, const RelayRecord& rec) {
    if (rec.pid <= 0 || rec.starttime == 0 || process_starttime(rec.pid) != rec.starttime) return false;
    auto cmd = base::read_file("/proc/" + std::to_string(rec.pid) + "/cmdline", 64 * 1024);
    if (!cmd) return false;
    std::vector<std::string> argv;
    for (size_t pos = 0; pos < cmd->size();) {
        size_t end = cmd->find('\0', pos);
        if (end == std::string::npos) end = cmd->size();
        argv.push_back(cmd->substr(pos, end - pos));
        pos = end + 1;
    }
    if (argv.empty()) return false;
    const std::string& a0 = argv[0];
    if (a0.substr(a0.rfind('/') == std::string::npos ? 0 : a0.rfind('/') + 1) != "lxm-proxy") return false;
    for (size_t i = 1; i + 1 < argv.size(); ++i)
        if (argv[i] == "--record" && argv[i + 1] == path) return true;
    return false;
}

// ---- sockets ----------------------------------------------------------------------------------

namespace {

struct SockAddr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_UNSPEC;
};

SockAddr sockaddr_of(const RelayEndpoint& e) {
    SockAddr a;
    if (e.proto == "unix") {
        auto* un = reinterpret_cast<sockaddr_un*>(&a.ss);
        un->sun_family = AF_UNIX;
        a.family = AF_UNIX;
        if (e.path[0] == '@') {  // abstract: a leading NUL, no terminator
            std::memcpy(un->sun_path + 1, e.path.data() + 1, e.path.size() - 1);
            a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + e.path.size());
        } else {
            std::memcpy(un->sun_path, e.path.data(), e.path.size());
            a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + e.path.size() + 1);
        }
    } else if (e.ipv6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(e.port);
        inet_pton(AF_INET6, e.address.c_str(), &in6->sin6_addr);
        a.family = AF_INET6;
        a.len = sizeof(sockaddr_in6);
    } else {
        auto* in = reinterpret_cast<sockaddr_in*>(&a.ss);
        in->sin_family = AF_INET;
        in->sin_port = htons(e.port);
        inet_pton(AF_INET, e.address.c_str(), &in->sin_addr);
        a.family = AF_INET;
        a.len = sizeof(sockaddr_in);
    }
    return a;
}

int sock_type(const RelayEndpoint& e) { return (e.stream() ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC; }

// A connection (or connected datagram socket) to the connect address, made in the
// namespaces the process is in. in_progress: a stream connect still completing.
Result<UniqueFd> connect_socket(const RelayEndpoint& e, bool* in_progress) {
    SockAddr a = sockaddr_of(e);
    UniqueFd fd(::socket(a.family, sock_type(e), 0));
    if (!fd) return base::errno_error("socket");
    *in_progress = false;
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a.ss), a.len) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) return base::errno_error("connect to " + e.to_string());
        *in_progress = true;
    }
    return fd;
}

}  // namespace

Relay::~Relay() {
    if (listen_dir_ && !listen_name_.empty()) ::unlinkat(listen_dir_.get(), listen_name_.c_str(), 0);
}

Result<Relay> Relay::open(const RelaySetup& s) {
    const bool stream_pair = s.listen.stream() && s.connect.stream();
    const bool dgram_pair = !s.listen.stream() && !s.connect.stream();
    if (!stream_pair && !dgram_pair) return invalid("udp relays only to udp");
    Relay r;
    r.setup_ = s;
    int pfd = static_cast<int>(::syscall(SYS_pidfd_open, s.target_pid, 0));
    if (pfd < 0) return base::errno_error("pidfd_open of the instance's init (pid " + std::to_string(s.target_pid) + ")");
    r.target_pidfd_.reset(pfd);

    SockAddr a = sockaddr_of(s.listen);
    UniqueFd fd(::socket(a.family, sock_type(s.listen), 0));
    if (!fd) return base::errno_error("socket");
    if (a.family != AF_UNIX) {
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    } else if (s.listen.path[0] == '/') {
        // The directory on the host, to remove the socket at exit from inside the
        // instance's mount namespace; a socket an earlier run left is replaced.
        std::string dir = s.listen.path.substr(0, s.listen.path.rfind('/'));
        r.listen_name_ = s.listen.path.substr(s.listen.path.rfind('/') + 1);
        if (r.listen_name_.empty()) return invalid("unix listen path names a directory");
        r.listen_dir_.reset(::open(dir.empty() ? "/" : dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!r.listen_dir_) return base::errno_error("open " + (dir.empty() ? std::string("/") : dir));
        struct stat st {};
        if (::fstatat(r.listen_dir_.get(), r.listen_name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                r.listen_name_.clear();
                return base::make_error(std::errc::address_in_use, s.listen.path + " exists and is not a socket");
            }
            ::unlinkat(r.listen_dir_.get(), r.listen_name_.c_str(), 0);
        }
    }
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a.ss), a.len) != 0) {
        int err = errno;
        r.listen_name_.clear();
        return base::errno_error("bind " + s.listen.to_string(), err);
    }
    if (!r.listen_name_.empty()) {
        // Owner first, then the mode (chown may clear setgid bits). Until then the socket is
        // root's and only root may connect (bind leaves 0777 & ~umask, no write for others).
        const ListenDac& dac = s.listen_dac;
        if ((dac.uid >= 0 || dac.gid >= 0) &&
            ::fchownat(r.listen_dir_.get(), r.listen_name_.c_str(), static_cast<uid_t>(dac.uid),
                       static_cast<gid_t>(dac.gid), AT_SYMLINK_NOFOLLOW) != 0)
            return base::errno_error("chown " + s.listen.path);
        if (::fchmodat(r.listen_dir_.get(), r.listen_name_.c_str(), dac.mode & 07777, 0) != 0)
            return base::errno_error("chmod " + s.listen.path);
    } else if (!s.listen_dac.is_default()) {
        return invalid("uid, gid and mode apply to a unix listen socket at a path only");
    }
    if (s.listen.stream() && ::listen(fd.get(), 128) != 0) return base::errno_error("listen " + s.listen.to_string());
    r.listen_fd_ = std::move(fd);
    return r;
}

Result<void> Relay::enter_target() {
    int ns = CLONE_NEWNET;
    if (setup_.connect.proto == "unix" && setup_.connect.path[0] == '/') ns |= CLONE_NEWNS;
    if (::setns(target_pidfd_.get(), ns) != 0)
        return base::errno_error("enter the namespaces of the instance's init (pid " + std::to_string(setup_.target_pid) + ")");
    return {};
}

int Relay::run() {
    ::signal(SIGPIPE, SIG_IGN);
    return setup_.listen.stream() ? run_stream() : run_datagram();
}

// ---- the loop ---------------------------------------------------------------------------------

namespace {

constexpr size_t kBuf = 16 * 1024;
constexpr size_t kMaxConns = 1024;

enum class Kind { Listen, Signal, Target, Conn, Flow };

struct Tag {
    Kind kind = Kind::Conn;
    void* obj = nullptr;
    int side = 0;
};

struct Loop {
    UniqueFd ep, sig;
    Tag listen_tag{Kind::Listen, nullptr, 0}, sig_tag{Kind::Signal, nullptr, 0}, target_tag{Kind::Target, nullptr, 0};

    Result<void> init(int listen_fd, int target_pidfd) {
        ep.reset(::epoll_create1(EPOLL_CLOEXEC));
        if (!ep) return base::errno_error("epoll_create1");
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        sig.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!sig) return base::errno_error("signalfd");
        LXM_TRY_VOID(add(listen_fd, EPOLLIN, &listen_tag));
        LXM_TRY_VOID(add(sig.get(), EPOLLIN, &sig_tag));
        return add(target_pidfd, EPOLLIN, &target_tag);
    }
    Result<void> add(int fd, uint32_t events, Tag* tag) {
        epoll_event ev{};
        ev.events = events;
        ev.data.ptr = tag;
        if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return base::errno_error("epoll_ctl");
        return {};
    }
    void mod(int fd, uint32_t events, Tag* tag) {
        epoll_event ev{};
        ev.events = events;
        ev.data.ptr = tag;
        ::epoll_ctl(ep.get(), EPOLL_CTL_MOD, fd, &ev);
    }
};

// One accepted connection: side 0 the client on the host, side 1 the connection made
// inside the instance. dir[i] holds bytes read from side i, to be written to the other.
struct Conn {
    struct Dir {
        std::array<char, kBuf> buf;
        size_t off = 0, len = 0;
        bool eof = false, shut = false;
    };
    UniqueFd fd[2];
    Dir dir[2];
    Tag tag[2] = {{Kind::Conn, nullptr, 0}, {Kind::Conn, nullptr, 1}};
    bool registered[2] = {false, false};
    bool hup[2] = {false, false};
    bool connecting = false;
    bool dead = false;
};

uint32_t wanted_events(const Conn& c, int i) {
    if (c.connecting) return i == 1 ? uint32_t{EPOLLOUT} : uint32_t{0};
    uint32_t ev = 0;
    if (!c.dir[i].eof && c.dir[i].len == 0) ev |= EPOLLIN;
    if (c.dir[1 - i].len > 0) ev |= EPOLLOUT;
    return ev;
}

// Keep the epoll registration of side i in line with what it waits for. A side that
// hung up and waits for nothing is taken out (epoll reports hang-ups unasked).
void update(Loop& loop, Conn& c, int i) {
    uint32_t ev = wanted_events(c, i);
    if (ev == 0 && c.hup[i]) {
        if (c.registered[i]) ::epoll_ctl(loop.ep.get(), EPOLL_CTL_DEL, c.fd[i].get(), nullptr);
        c.registered[i] = false;
        return;
    }
    if (!c.registered[i]) {
        c.registered[i] = static_cast<bool>(loop.add(c.fd[i].get(), ev, &c.tag[i]));
        return;
    }
    loop.mod(c.fd[i].get(), ev, &c.tag[i]);
}

// Move what can be moved without blocking; marks the connection dead when it is over.
void pump(Conn& c) {
    for (int i = 0; i < 2 && !c.dead; ++i) {
        auto& d = c.dir[i];
        if (!d.eof && d.len == 0) {
            ssize_t n = ::recv(c.fd[i].get(), d.buf.data(), d.buf.size(), 0);
            if (n > 0) {
                d.off = 0;
                d.len = static_cast<size_t>(n);
            } else if (n == 0) {
                d.eof = true;
            } else if (errno != EAGAIN && errno != EINTR) {
                c.dead = true;
            }
        }
    }
    for (int i = 0; i < 2 && !c.dead; ++i) {
        auto& d = c.dir[i];
        int out = c.fd[1 - i].get();
        while (d.len > 0) {
            ssize_t n = ::send(out, d.buf.data() + d.off, d.len, MSG_NOSIGNAL);
            if (n > 0) {
                d.off += static_cast<size_t>(n);
                d.len -= static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
            c.dead = true;
            break;
        }
        if (!c.dead && d.len == 0 && d.eof && !d.shut) {
            ::shutdown(out, SHUT_WR);
            d.shut = true;
        }
    }
    if (c.dir[0].shut && c.dir[1].shut) c.dead = true;
}

}  // namespace

int Relay::run_stream() {
    Loop loop;
    if (auto r = loop.init(listen_fd_.get(), target_pidfd_.get()); !r) {
        std::fprintf(stderr, "lxm-proxy: %s\n", r.error().message().c_str());
        return 1;
    }
    std::map<Conn*, std::unique_ptr<Conn>> conns;
    bool accepting = true;
    std::array<epoll_event, 64> events;
    for (;;) {
        int n = ::epoll_wait(loop.ep.get(), events.data(), static_cast<int>(events.size()), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::perror("lxm-proxy: epoll_wait");
            return 1;
        }
        std::vector<Conn*> touched;
        for (int k = 0; k < n; ++k) {
            auto* tag = static_cast<Tag*>(events[k].data.ptr);
            switch (tag->kind) {
                case Kind::Signal:
                case Kind::Target:
                    return 0;
                case Kind::Listen:
                    while (conns.size() < kMaxConns) {
                        UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
                        if (!client) break;
                        bool in_progress = false;
                        auto up = connect_socket(setup_.connect, &in_progress);
                        if (!up) continue;  // the client sees the connection closed, as with LXD
                        auto c = std::make_unique<Conn>();
                        c->fd[0] = std::move(client);
                        c->fd[1] = std::move(*up);
                        c->connecting = in_progress;
                        for (int i = 0; i < 2; ++i) c->tag[i] = Tag{Kind::Conn, c.get(), i};
                        Conn* raw = c.get();
                        conns.emplace(raw, std::move(c));
                        if (!raw->connecting) pump(*raw);
                        touched.push_back(raw);
                    }
                    break;
                case Kind::Conn: {
                    auto* c = static_cast<Conn*>(tag->obj);
                    if (c->dead) break;
                    uint32_t ev = events[k].events;
                    if (ev & (EPOLLHUP | EPOLLERR)) c->hup[tag->side] = true;
                    if (c->connecting) {
                        if (tag->side == 0) {  // the client hung up before the connection inside was made
                            touched.push_back(c);
                            break;
                        }
                        int err = 0;
                        socklen_t len = sizeof err;
                        ::getsockopt(c->fd[1].get(), SOL_SOCKET, SO_ERROR, &err, &len);
                        if (err != 0) c->dead = true;
                        c->connecting = false;
                        c->hup[1] = false;
                    }
                    if (!c->dead) pump(*c);
                    touched.push_back(c);
                    break;
                }
                case Kind::Flow:
                    break;
            }
        }
        for (Conn* c : touched) {
            auto it = conns.find(c);
            if (it == conns.end()) continue;
            if (c->dead) {
                conns.erase(it);  // closing the fds takes them out of epoll
                continue;
            }
            update(loop, *c, 0);
            update(loop, *c, 1);
        }
        bool want_accept = conns.size() < kMaxConns;
        if (want_accept != accepting) {
            loop.mod(listen_fd_.get(), want_accept ? uint32_t{EPOLLIN} : uint32_t{0}, &loop.listen_tag);
            accepting = want_accept;
        }
    }
}

// udp <-> udp: each client address gets its own connected socket inside the instance;
// replies go back from the listen socket. Flows idle for two minutes are dropped.
int Relay::run_datagram() {
    Loop loop;
    if (auto r = loop.init(listen_fd_.get(), target_pidfd_.get()); !r) {
        std::fprintf(stderr, "lxm-proxy: %s\n", r.error().message().c_str());
        return 1;
    }
    using Clock = std::chrono::steady_clock;
    struct Flow {
        UniqueFd up;
        sockaddr_storage peer{};
        socklen_t peer_len = 0;
        Clock::time_point last;
        Tag tag{Kind::Flow, nullptr, 0};
    };
    std::map<std::string, std::unique_ptr<Flow>> flows;  // key: the client's address bytes
    static char buf[65536];
    std::array<epoll_event, 64> events;
    auto sweep_at = Clock::now() + std::chrono::seconds(10);
    for (;;) {
        int n = ::epoll_wait(loop.ep.get(), events.data(), static_cast<int>(events.size()), 10000);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::perror("lxm-proxy: epoll_wait");
            return 1;
        }
        auto now = Clock::now();
        for (int k = 0; k < n; ++k) {
            auto* tag = static_cast<Tag*>(events[k].data.ptr);
            if (tag->kind == Kind::Signal || tag->kind == Kind::Target) return 0;
            if (tag->kind == Kind::Listen) {
                for (;;) {
                    sockaddr_storage peer{};
                    socklen_t plen = sizeof peer;
                    ssize_t got = ::recvfrom(listen_fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &plen);
                    if (got < 0) break;
                    std::string key(reinterpret_cast<char*>(&peer), plen);
                    auto it = flows.find(key);
                    if (it == flows.end()) {
                        if (flows.size() >= kMaxConns) continue;
                        bool in_progress = false;
                        auto up = connect_socket(setup_.connect, &in_progress);
                        if (!up) continue;
                        auto f = std::make_unique<Flow>();
                        f->up = std::move(*up);
                        f->peer = peer;
                        f->peer_len = plen;
                        f->tag.obj = f.get();
                        if (!loop.add(f->up.get(), EPOLLIN, &f->tag)) continue;
                        it = flows.emplace(key, std::move(f)).first;
                    }
                    it->second->last = now;
                    (void)::send(it->second->up.get(), buf, static_cast<size_t>(got), MSG_NOSIGNAL);
                }
            } else if (tag->kind == Kind::Flow) {
                auto* f = static_cast<Flow*>(tag->obj);
                for (;;) {
                    ssize_t got = ::recv(f->up.get(), buf, sizeof buf, 0);
                    if (got < 0) break;
                    f->last = now;
                    (void)::sendto(listen_fd_.get(), buf, static_cast<size_t>(got), MSG_NOSIGNAL,
                                   reinterpret_cast<sockaddr*>(&f->peer), f->peer_len);
                }
            }
        }
        if (now >= sweep_at) {
            for (auto it = flows.begin(); it != flows.end();)
                it = now - it->second->last > std::chrono::minutes(2) ? flows.erase(it) : std::next(it);
            sweep_at = now + std::chrono::seconds(10);
        }
    }
}

}  // namespace lxm::netd
