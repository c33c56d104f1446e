// bench/monitor_ctl: one request to an lxm-monitor socket, for the benchmark scripts (built by
// bench/lib.sh with g++, not part of the project build). Starts in a millisecond, so timing a
// stop through it measures the monitor, not an interpreter's start-up.
//
//   monitor_ctl SOCKET JSON [PID]
//
// Sends JSON as one SOCK_SEQPACKET message, prints the reply. With PID, then waits until that
// process has exited; a zombie counts as exited (a detached monitor's parent is PID 1, which may
// reap late). Exit status 0 when the reply has no "error" key.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace {

bool running(const std::string& pid) {
    std::ifstream f("/proc/" + pid + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return false;
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        std::fprintf(stderr, "usage: monitor_ctl SOCKET JSON [PID]\n");
        return 2;
    }
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd < 0 || std::strlen(argv[1]) >= sizeof addr.sun_path) {
        std::perror("socket");
        return 1;
    }
    std::strcpy(addr.sun_path, argv[1]);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("connect");
        return 1;
    }
    if (::send(fd, argv[2], std::strlen(argv[2]), MSG_NOSIGNAL) < 0) {
        std::perror("send");
        return 1;
    }
    static char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0) {
        std::perror("recv");
        return 1;
    }
    buf[n] = 0;
    std::printf("%s\n", buf);
    ::close(fd);
    if (argc == 4)
        while (running(argv[3])) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return std::strstr(buf, "\"error\"") ? 1 : 0;
}
