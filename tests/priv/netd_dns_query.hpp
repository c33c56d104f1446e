// A tiny DNS A query over UDP for netd tests (no resolver library, no upstream):
// returns the first A record's address as text, or "" when none.
#pragma once

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lxm::test {

inline std::string dns_query_a(const std::string& server, const std::string& name, int timeout_ms = 2000) {
    std::vector<uint8_t> q{0x4c, 0x58, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};  // id, RD, 1 question
    size_t s = 0;
    while (s <= name.size()) {
        size_t dot = name.find('.', s);
        if (dot == std::string::npos) dot = name.size();
        q.push_back(static_cast<uint8_t>(dot - s));
        q.insert(q.end(), name.begin() + s, name.begin() + dot);
        s = dot + 1;
    }
    q.insert(q.end(), {0, 0, 1, 0, 1});  // root, type A, class IN
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "";
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(53);
    ::inet_pton(AF_INET, server.c_str(), &sa.sin_addr);
    std::string out;
    if (::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == static_cast<ssize_t>(q.size())) {
        pollfd p{fd, POLLIN, 0};
        uint8_t r[1500];
        ssize_t n = ::poll(&p, 1, timeout_ms) > 0 ? ::recv(fd, r, sizeof r, 0) : -1;
        if (n > 12 && r[0] == 0x4c && r[1] == 0x58 && (r[3] & 0x0f) == 0) {
            int an = (r[6] << 8) | r[7];
            size_t i = 12;
            auto skip_name = [&](size_t& k) {
                while (k < static_cast<size_t>(n)) {
                    if ((r[k] & 0xc0) == 0xc0) { k += 2; return; }
                    if (r[k] == 0) { k += 1; return; }
                    k += r[k] + 1;
                }
            };
            skip_name(i);
            i += 4;
            for (int a = 0; a < an && i < static_cast<size_t>(n); ++a) {
                skip_name(i);
                if (i + 10 > static_cast<size_t>(n)) break;
                int type = (r[i] << 8) | r[i + 1];
                int len = (r[i + 8] << 8) | r[i + 9];
                i += 10;
                if (type == 1 && len == 4 && i + 4 <= static_cast<size_t>(n)) {
                    char buf[INET_ADDRSTRLEN];
                    ::inet_ntop(AF_INET, r + i, buf, sizeof buf);
                    out = buf;
                    break;
                }
                i += len;
            }
        }
    }
    ::close(fd);
    return out;
}

}  // namespace lxm::test
