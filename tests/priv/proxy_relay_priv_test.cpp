// lxm-proxy (netd/proxy_relay.hpp) on the real kernel: a python3 echo server in a
// private network namespace (started by `unshare --net`, so its 127.0.0.1 is not the
// host's) is reached from the host through the relay: tcp -> tcp (1 MiB each way, with
// a half-close), unix -> tcp, tcp -> unix, udp -> udp; a taken listen address exits 3;
// SIGTERM ends the relay and removes its record and unix socket; the target's exit ends
// the relay by itself. Everything started here is ended by pid.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "lxm/base/unique_fd.hpp"
#include "netd/proxy_relay.hpp"
#include "tests/support/test_env.hpp"

namespace lxm::test {
namespace {

using base::UniqueFd;

const char* kServer = R"PY(
import socket, sys, threading
port, path, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def echo(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
def serve(s):
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()
t = socket.socket()
t.bind(("127.0.0.1", port)); t.listen()
u = socket.socket(socket.AF_UNIX)
u.bind(path); u.listen()
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.bind(("127.0.0.1", port))
def udp():
    while True:
        m, a = d.recvfrom(65536)
        d.sendto(b"udp:" + m, a)
for f, a in ((serve, (t,)), (serve, (u,)), (udp, ())):
    threading.Thread(target=f, args=a, daemon=True).start()
open(ready, "w").close()
threading.Event().wait()
)PY";

pid_t spawn_bg(const std::vector<std::string>& args) {
    pid_t pid = ::fork();
    if (pid == 0) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

UniqueFd connect_to(int family, const std::string& where, int port, int type = SOCK_STREAM) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (family == AF_UNIX) {
        auto* un = reinterpret_cast<sockaddr_un*>(&ss);
        un->sun_family = AF_UNIX;
        std::strncpy(un->sun_path, where.c_str(), sizeof un->sun_path - 1);
        len = sizeof(sockaddr_un);
    } else {
        auto* in = reinterpret_cast<sockaddr_in*>(&ss);
        in->sin_family = AF_INET;
        in->sin_port = htons(static_cast<uint16_t>(port));
        ::inet_pton(AF_INET, where.c_str(), &in->sin_addr);
        len = sizeof(sockaddr_in);
    }
    UniqueFd fd(::socket(family, type | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return UniqueFd();
    timeval tv{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

// Send data, half-close, read everything back: what came back.
std::string roundtrip(int fd, const std::string& data) {
    std::string back;
    size_t sent = 0;
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    bool shut = false;
    char buf[65536];
    for (;;) {
        pollfd p{fd, static_cast<short>(POLLIN | (sent < data.size() ? POLLOUT : 0)), 0};
        if (::poll(&p, 1, 5000) != 1) return back + "[timeout]";
        if (p.revents & POLLOUT) {
            ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n > 0) sent += static_cast<size_t>(n);
        }
        if (sent == data.size() && !shut) {
            ::shutdown(fd, SHUT_WR);
            shut = true;
        }
        if (p.revents & (POLLIN | POLLHUP)) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n == 0) return back;
            if (n < 0 && errno != EAGAIN) return back + "[error]";
            if (n > 0) back.append(buf, static_cast<size_t>(n));
        }
    }
}

// Alive and not a zombie (relays are not our children: they detach).
bool pid_alive(pid_t pid) {
    auto stat = base::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) return false;
    auto close = stat->rfind(')');
    return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z';
}

class ProxyRelayPriv : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        if (!base::path_exists(bin("lxm-proxy"))) GTEST_SKIP() << "lxm-proxy not built";
        if (sh("command -v python3 && command -v unshare").code != 0) GTEST_SKIP() << "python3/unshare missing";
        port_ = 30000 + ::getpid() % 20000;
        std::string script = dir_ / "server.py";
        ASSERT_TRUE(base::write_file(script, kServer, true));
        target_ = spawn_bg({"unshare", "--net", "sh", "-c", "ip link set lo up && exec python3 \"$@\"", "sh", script,
                            std::to_string(port_), dir_ / "inside.sock", dir_ / "ready"});
        ASSERT_GT(target_, 0);
        for (int i = 0; i < 100 && !base::path_exists(dir_ / "ready"); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ASSERT_TRUE(base::path_exists(dir_ / "ready")) << "the server in its netns did not start";
    }
    void TearDown() override {
        for (const auto& r : records_) {
            auto rec = netd::read_relay_record(r);
            if (rec && netd::relay_record_live(r, *rec)) ::kill(rec->pid, SIGKILL);
        }
        if (target_ > 0) {
            ::kill(target_, SIGKILL);
            ::waitpid(target_, nullptr, 0);
        }
    }
    // Start a relay; its pid (0 on failure, with the exit code in *code).
    pid_t relay(const std::string& listen, const std::string& connect, const std::string& record, int* code = nullptr,
                std::string* err = nullptr) {
        base::SpawnOptions o;
        o.argv = {bin("lxm-proxy"), "--listen", listen, "--connect", connect, "--pid", std::to_string(target_),
                  "--record", record, "--log", dir_ / "relay.log"};
        o.timeout = std::chrono::seconds(10);
        auto r = base::spawn_capture(o);
        records_.push_back(record);
        if (code) *code = r ? r->exit_code : -1;
        if (err) *err = r ? r->err : r.error().message();
        if (!r || !r->success()) return 0;
        auto rec = netd::read_relay_record(record);
        return rec ? rec->pid : 0;
    }

    TempDir dir_{"relay"};
    int port_ = 0;
    pid_t target_ = -1;
    std::vector<std::string> records_;
};

TEST_F(ProxyRelayPriv, StreamsAndDatagrams) {
    // The server listens on the private netns's loopback only: not reachable from here.
    EXPECT_FALSE(connect_to(AF_INET, "127.0.0.1", port_));

    const int lp = port_ + 1;
    pid_t tcp = relay("tcp:127.0.0.1:" + std::to_string(lp), "tcp:127.0.0.1:" + std::to_string(port_), dir_ / "tcp.json");
    ASSERT_GT(tcp, 0) << *base::read_file(dir_ / "relay.log");
    std::string big(1 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    {
        auto fd = connect_to(AF_INET, "127.0.0.1", lp);
        ASSERT_TRUE(fd);
        EXPECT_EQ(roundtrip(fd.get(), big), big);
    }
    // A small process: static, one epoll loop, 32 KiB of buffers per open connection.
    {
        auto status = base::read_file("/proc/" + std::to_string(tcp) + "/status");
        ASSERT_TRUE(status);
        auto at = status->find("VmRSS:");
        ASSERT_NE(at, std::string::npos);
        long kb = std::strtol(status->c_str() + at + 6, nullptr, 10);
        std::printf("lxm-proxy VmRSS after a 1 MiB echo: %ld kB\n", kb);
        EXPECT_LT(kb, 4096);
    }
    // Several at once.
    {
        std::vector<UniqueFd> fds;
        for (int i = 0; i < 8; ++i) fds.push_back(connect_to(AF_INET, "127.0.0.1", lp));
        for (int i = 0; i < 8; ++i) {
            ASSERT_TRUE(fds[i]);
            EXPECT_EQ(roundtrip(fds[i].get(), "conn " + std::to_string(i)), "conn " + std::to_string(i));
        }
    }
    // The same listen address again: exit 3 with the reason.
    int code = 0;
    std::string err;
    EXPECT_EQ(relay("tcp:127.0.0.1:" + std::to_string(lp), "tcp:127.0.0.1:1", dir_ / "dup.json", &code, &err), 0);
    EXPECT_EQ(code, 3) << err;
    EXPECT_NE(err.find("Address already in use"), std::string::npos) << err;
    EXPECT_FALSE(base::path_exists(dir_ / "dup.json"));

    // unix on the host -> tcp inside; tcp on the host -> unix inside.
    std::string host_sock = dir_ / "host.sock";
    pid_t u2t = relay("unix:" + host_sock, "tcp:127.0.0.1:" + std::to_string(port_), dir_ / "u2t.json");
    ASSERT_GT(u2t, 0) << *base::read_file(dir_ / "relay.log");
    {
        auto fd = connect_to(AF_UNIX, host_sock, 0);
        ASSERT_TRUE(fd);
        EXPECT_EQ(roundtrip(fd.get(), "via unix"), "via unix");
    }
    pid_t t2u = relay("tcp:127.0.0.1:" + std::to_string(lp + 1), "unix:" + dir_ / "inside.sock", dir_ / "t2u.json");
    ASSERT_GT(t2u, 0) << *base::read_file(dir_ / "relay.log");
    {
        auto fd = connect_to(AF_INET, "127.0.0.1", lp + 1);
        ASSERT_TRUE(fd);
        EXPECT_EQ(roundtrip(fd.get(), "to unix"), "to unix");
    }

    // udp -> udp: the answer comes back to the sender.
    pid_t udp = relay("udp:127.0.0.1:" + std::to_string(lp), "udp:127.0.0.1:" + std::to_string(port_), dir_ / "udp.json");
    ASSERT_GT(udp, 0) << *base::read_file(dir_ / "relay.log");
    {
        auto fd = connect_to(AF_INET, "127.0.0.1", lp, SOCK_DGRAM);
        ASSERT_TRUE(fd);
        ASSERT_EQ(::send(fd.get(), "ping", 4, 0), 4);
        char buf[64] = {};
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "udp:ping");
    }

    // Records name live relays; lxmd's identity check accepts them and nothing else.
    auto rec = netd::read_relay_record(dir_ / "tcp.json");
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->pid, tcp);
    EXPECT_EQ(rec->target_pid, target_);
    EXPECT_TRUE(netd::relay_record_live(dir_ / "tcp.json", *rec));
    EXPECT_FALSE(netd::relay_record_live(dir_ / "u2t.json", *rec));  // another record's relay
    auto forged = *rec;
    forged.starttime += 1;
    EXPECT_FALSE(netd::relay_record_live(dir_ / "tcp.json", forged));

    // SIGTERM: the relay ends and takes its record and unix socket along.
    ASSERT_EQ(::kill(u2t, SIGTERM), 0);
    for (int i = 0; i < 100 && pid_alive(u2t); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(pid_alive(u2t));
    EXPECT_FALSE(base::path_exists(dir_ / "u2t.json"));
    EXPECT_FALSE(base::path_exists(host_sock));

    // The target exits: the other relays end by themselves.
    ::kill(target_, SIGKILL);
    ::waitpid(target_, nullptr, 0);
    target_ = -1;
    for (pid_t p : {tcp, t2u, udp}) {
        for (int i = 0; i < 100 && pid_alive(p); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        EXPECT_FALSE(pid_alive(p)) << p;
    }
    EXPECT_FALSE(base::path_exists(dir_ / "tcp.json"));
    EXPECT_FALSE(connect_to(AF_INET, "127.0.0.1", lp));
}

}  // namespace
}  // namespace lxm::test
