#include "lxm/api/tls.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "lxm/apitypes/http_error.hpp"

namespace lxm::api {

namespace {
base::Unexpected bad(std::string_view text, std::string_view why) {
    return apitypes::http_error(400, "invalid https address \"" + std::string(text.substr(0, 100)) + "\": " +
                                         std::string(why));
}
}  // namespace

base::Result<ListenAddress> parse_listen_address(std::string_view text) {
    ListenAddress a;
    std::string_view host = text, port;
    if (text.empty()) return bad(text, "empty");
    if (text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return bad(text, "missing ]");
        host = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return bad(text, "junk after ]");
            port = rest.substr(1);
            if (port.empty()) return bad(text, "empty port");
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        auto colon = text.find(':');
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (port.empty()) return bad(text, "empty port");
    }  // else: no port, or a bare v6 address
    if (host.find(':') != std::string_view::npos) {
        in6_addr tmp{};
        if (::inet_pton(AF_INET6, std::string(host).c_str(), &tmp) != 1) return bad(text, "not an IPv6 address");
    }
    for (char c : host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '%'))
            return bad(text, "bad host character");
    a.host = std::string(host);
    if (!port.empty()) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc() || p != port.data() + port.size() || v > 65535) return bad(text, "bad port");
        a.port = static_cast<uint16_t>(v);
    }
    return a;
}

std::string join_host_port(std::string_view host, uint16_t port) {
    if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]:" + std::to_string(port);
    return std::string(host) + ":" + std::to_string(port);
}

std::vector<std::string> reachable_addresses(const ListenAddress& bound) {
    if (!bound.wildcard()) return {join_host_port(bound.host, bound.port)};
    std::vector<std::string> v4, v6;
    ifaddrs* ifs = nullptr;
    if (::getifaddrs(&ifs) != 0) return {};
    for (ifaddrs* i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
        char buf[INET6_ADDRSTRLEN] = {};
        if (i->ifa_addr->sa_family == AF_INET) {
            auto* sin = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
            ::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
            v4.push_back(join_host_port(buf, bound.port));
        } else if (i->ifa_addr->sa_family == AF_INET6 && bound.host != "0.0.0.0") {
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
            if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;
            ::inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
            v6.push_back(join_host_port(buf, bound.port));
        }
    }
    ::freeifaddrs(ifs);
    v4.insert(v4.end(), v6.begin(), v6.end());
    return v4;
}

}  // namespace lxm::api
