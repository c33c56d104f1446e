// TLS pieces of the API that need no Asio: listen addresses as LXD writes them
// (core.https_address) and the addresses a listener is reachable on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::api {

inline constexpr uint16_t kDefaultHttpsPort = 8443;

struct ListenAddress {
    std::string host;  // "" or "::" or "0.0.0.0": every address; v6 without brackets
    uint16_t port = kDefaultHttpsPort;
    bool wildcard() const { return host.empty() || host == "::" || host == "0.0.0.0"; }
};

// "[::]:8443", "0.0.0.0:8443", ":8443", "127.0.0.1", "[fd00::1]", "::1" (a bare v6 address),
// "host.example:9443". The port defaults to 8443. Errors are http 400 ("invalid https address").
base::Result<ListenAddress> parse_listen_address(std::string_view text);

// "host:port" with brackets around v6 hosts.
std::string join_host_port(std::string_view host, uint16_t port);

// Addresses clients can use for a listener (LXD's util.ListenAddresses): the address itself,
// or for a wildcard every global address of the host's interfaces (v4 first), with the port.
std::vector<std::string> reachable_addresses(const ListenAddress& bound);

}  // namespace lxm::api
