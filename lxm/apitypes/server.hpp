// GET /1.0 (lxd:shared/api/server.go): the untrusted view carries only the
// top-level fields; config and environment are present for trusted callers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lxm/apitypes/json_util.hpp"

namespace lxm::apitypes {

struct ServerEnvironment {
    std::vector<std::string> addresses;
    std::vector<std::string> architectures;
    std::string certificate;
    std::string certificate_fingerprint;
    std::string driver = "lxm";
    std::string driver_version;
    std::string firewall = "nftables";
    std::string kernel;
    std::string kernel_architecture;
    std::map<std::string, std::string> kernel_features;
    std::string kernel_version;
    std::string os_name;
    std::string os_version;
    std::string project = "default";
    std::string server = "lxm";
    bool server_clustered = false;
    std::string server_event_mode = "full-mesh";
    std::string server_name;
    long server_pid = 0;
    std::string server_version;
    std::string storage;
    std::string storage_version;
};

struct ServerInfo {
    std::vector<std::string> api_extensions;
    std::string api_status = "stable";
    std::string api_version = "1.0";
    std::string auth = "untrusted";  // "trusted" | "untrusted"
    std::vector<std::string> auth_methods{"tls"};
    bool is_public = false;  // wire name "public"
    std::optional<json> config;  // trusted only: server config keys
    std::optional<ServerEnvironment> environment;  // trusted only
};

void to_json(json& j, const ServerEnvironment& v);
void from_json(const json& j, ServerEnvironment& v);
void to_json(json& j, const ServerInfo& v);
void from_json(const json& j, ServerInfo& v);

}  // namespace lxm::apitypes
