// Context: what every `lxm` verb shares — the connection to lxmd, waiting for
// operations the way the LXD client does, and errors meant for users.
//
// Verbs are functions `base::Result<int> verb(Context&, const Options&)` returning
// the process exit code; app.cpp prints a failed Result as "Error: <message>" on
// stderr (as `lxc` does) and exits 1.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "lxm/apitypes/operation.hpp"
#include "lxm/base/error.hpp"
#include "lxm/base/x509.hpp"
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

// The user's remotes (remote.cpp), in the config dir: $LXM_CONF, else $XDG_CONFIG_HOME/lxm,
// else ~/.config/lxm. config.yml holds default-remote and remotes (name → https URL);
// client.crt/client.key are this user's identity (generated on first use, key 0600);
// servercerts/<remote>.crt pins each server's certificate. "local" is always the unix socket.
std::string config_dir();

struct RemoteConfig {
    std::string dir;
    std::string default_remote = "local";
    std::map<std::string, std::string> remotes;  // name → "https://host:port"

    static base::Result<RemoteConfig> load();
    base::Result<void> save() const;
    bool has(std::string_view name) const { return name == "local" || remotes.contains(std::string(name)); }
    std::string server_cert_path(std::string_view name) const { return dir + "/servercerts/" + std::string(name) + ".crt"; }
    base::Result<base::CertKey> client_identity() const;  // created on first use
};

class Context {
public:
    explicit Context(std::string socket) : socket_(std::move(socket)) {}

    // Connects on first use, to the selected remote (else the default remote).
    base::Result<client::Client*> client();
    const std::string& socket() const { return socket_; }

    // The one helper for "remote:name" arguments of every verb: strips a known remote's
    // prefix from arg and selects that remote for this command. "local:" is the unix socket;
    // an unknown remote is an error; a prefix with '/' in it is not a remote (file paths).
    base::Result<void> take_remote(std::string& arg);
    // The remote this command talks to.
    std::string remote();
    base::Result<RemoteConfig*> remotes();

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
    std::optional<RemoteConfig> config_;
    std::string selected_;  // "" = the default remote
    std::map<std::string, client::Client> clients_;
};

void print(std::FILE* f, std::string_view s);

}  // namespace lxm::cli
