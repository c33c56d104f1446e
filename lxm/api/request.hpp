// Request: what a handler sees. Transport-independent (unix socket or TLS).
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/json_util.hpp"
#include "lxm/base/error.hpp"

namespace lxm::api {

using json = nlohmann::json;

// Who is calling.
struct Peer {
    enum class Kind { unix_socket, tls, internal };
    Kind kind = Kind::unix_socket;
    uid_t uid = static_cast<uid_t>(-1);  // unix: SO_PEERCRED
    gid_t gid = static_cast<gid_t>(-1);
    pid_t pid = 0;
    std::string cert_fingerprint;  // tls: sha256 hex of the client certificate ("" when none was sent)
    std::string cert_pem;          // tls: the client certificate
    std::string address;           // tls: the client's "host:port"
};

// ?filter= (extension api_filtering). Supported: empty, or one "<field> eq <value>"
// clause (value optionally quoted); the router answers 400 for anything else.
struct Filter {
    std::string field;
    std::string value;
    // True if obj[field] (dotted path "config.image.os" looks into maps) equals value.
    bool matches(const json& obj) const;
};

class Request {
public:
    std::string method;  // "GET", "POST", ...
    std::string path;    // canonical path: url-decoded segments, aliases rewritten (/1.0/containers → /1.0/instances)
    std::string target;  // request target as received (path + query)
    std::string alias_prefix;  // "/1.0/containers" when the request came through that alias, else ""
    std::map<std::string, std::string> params;  // {name} captures of the matched pattern, url-decoded
    std::map<std::string, std::string> query;   // url-decoded; the last of repeated keys wins
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string body_file;  // routes with body_to_dir: the file holding the body
    std::shared_ptr<void> body_state;  // routes with body_sink: the sink's state
    bool body_complete = false;        // routes with body_sink: the whole body went into the sink
    Peer peer;
    bool trusted = false;
    std::optional<Filter> filter;  // set when ?filter= is non-empty

    // Path capture or "" (handlers only ask for names their pattern has).
    const std::string& param(const std::string& name) const;
    std::optional<std::string> query_value(const std::string& key) const;
    std::string header(const std::string& lower_name) const;
    // ?recursion= as an int (0 when absent or malformed).
    int recursion() const;
    // ?project= or "default".
    std::string project() const;

    // The body as JSON, parsed once; a malformed body is http 400 "failed to parse request body: ...".
    // An empty body parses as an empty object.
    const base::Result<json>& json_body() const;
    // The body as a wire struct; type errors are http 400.
    template <typename T>
    base::Result<T> body_as() const {
        const auto& j = json_body();
        if (!j) return std::unexpected(j.error());
        auto r = apitypes::parse_as<T>(*j);
        if (!r) return apitypes::http_error(400, r.error().context);
        return r;
    }

    // A URL for a resource, in the URL space the client used: with alias_prefix
    // "/1.0/containers", url("/1.0/instances/c1") is "/1.0/containers/c1".
    std::string url(std::string_view canonical) const;

private:
    mutable std::optional<base::Result<json>> json_;
};

// Percent-decoding ('+' stays '+' in paths; in queries decode_query turns it into a space).
std::string url_decode(std::string_view s, bool plus_is_space = false);
std::string url_encode(std::string_view s);
// "a=1&b=x%20y" → {a:1, b:"x y"}
std::map<std::string, std::string> parse_query(std::string_view q);
base::Result<Filter> parse_filter(std::string_view text);

}  // namespace lxm::api
