// JSON messages with attached file descriptors over SOCK_SEQPACKET unix
// sockets: the monitor's control protocol.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::runtime {

inline constexpr size_t kMaxMessage = 64 * 1024;
inline constexpr size_t kMaxFds = 8;

struct FdMessage {
    nlohmann::json body;
    std::vector<base::UniqueFd> fds;
};

base::Result<void> send_message(int sock, const nlohmann::json& body, const std::vector<int>& fds = {});
// EOF gives std::errc::broken_pipe. Bodies that are not JSON objects give std::errc::bad_message.
base::Result<FdMessage> recv_message(int sock);

}  // namespace lxm::runtime
