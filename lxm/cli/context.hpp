// Context: what every `lxm` verb shares — the connection to lxmd, waiting for
// operations the way the LXD client does, and errors meant for users.
//
// Verbs are functions `base::Result<int> verb(Context&, const Options&)` returning
// the process exit code; app.cpp prints a failed Result as "Error: <message>" on
// stderr (as `lxc` does) and exits 1.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "lxm/apitypes/operation.hpp"
#include "lxm/base/error.hpp"
#include "lxm/client/client.hpp"

namespace lxm::cli {

using json = nlohmann::json;

// $LXM_DIR/unix.socket, else /var/lib/lxm/unix.socket.
std::string socket_path();

// An error whose whole text is meant for the user (no "context: errno text" suffix).
base::Unexpected user_error(std::string message);
// The text printed after "Error: ".
std::string error_text(const base::Error& e);

// "/1.0/instances/" + url-encoded name (names may carry '/' for snapshots: a/b → a/snapshots/b).
std::string instance_url(std::string_view name);
std::string url_escape(std::string_view s);

class Context {
public:
    explicit Context(std::string socket) : socket_(std::move(socket)) {}

    // Connects on first use.
    base::Result<client::Client*> client();
    const std::string& socket() const { return socket_; }

    // For a sync answer: nothing to wait for. For an async answer: wait until the operation
    // ends; Failure/Cancelled become user errors with the operation's text.
    base::Result<apitypes::Operation> wait(const client::Response& r);
    // Send and wait: query() then wait().
    base::Result<apitypes::Operation> run(std::string_view method, std::string_view path,
                                          const json& body = nullptr);

    // Output streams (tests may redirect them).
    std::FILE* out = stdout;
    std::FILE* err = stderr;

private:
    std::string socket_;
    std::optional<client::Client> client_;
};

void print(std::FILE* f, std::string_view s);

}  // namespace lxm::cli
