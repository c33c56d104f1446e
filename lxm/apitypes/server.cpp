#include "lxm/apitypes/server.hpp"

namespace lxm::apitypes {
using detail::read;

void to_json(json& j, const ServerEnvironment& v) {
    j = json{{"addresses", v.addresses},
             {"architectures", v.architectures},
             {"certificate", v.certificate},
             {"certificate_fingerprint", v.certificate_fingerprint},
             {"driver", v.driver},
             {"driver_version", v.driver_version},
             {"firewall", v.firewall},
             {"kernel", v.kernel},
             {"kernel_architecture", v.kernel_architecture},
             {"kernel_features", v.kernel_features},
             {"kernel_version", v.kernel_version},
             {"os_name", v.os_name},
             {"os_version", v.os_version},
             {"project", v.project},
             {"server", v.server},
             {"server_clustered", v.server_clustered},
             {"server_event_mode", v.server_event_mode},
             {"server_name", v.server_name},
             {"server_pid", v.server_pid},
             {"server_version", v.server_version},
             {"storage", v.storage},
             {"storage_version", v.storage_version}};
}

void from_json(const json& j, ServerEnvironment& v) {
    detail::require_object(j, "environment");
    read(j, "addresses", v.addresses);
    read(j, "architectures", v.architectures);
    read(j, "certificate", v.certificate);
    read(j, "certificate_fingerprint", v.certificate_fingerprint);
    read(j, "driver", v.driver);
    read(j, "driver_version", v.driver_version);
    read(j, "firewall", v.firewall);
    read(j, "kernel", v.kernel);
    read(j, "kernel_architecture", v.kernel_architecture);
    read(j, "kernel_features", v.kernel_features);
    read(j, "kernel_version", v.kernel_version);
    read(j, "os_name", v.os_name);
    read(j, "os_version", v.os_version);
    read(j, "project", v.project);
    read(j, "server", v.server);
    read(j, "server_clustered", v.server_clustered);
    read(j, "server_event_mode", v.server_event_mode);
    read(j, "server_name", v.server_name);
    read(j, "server_pid", v.server_pid);
    read(j, "server_version", v.server_version);
    read(j, "storage", v.storage);
    read(j, "storage_version", v.storage_version);
}

void to_json(json& j, const ServerInfo& v) {
    j = json{{"api_extensions", v.api_extensions}, {"api_status", v.api_status}, {"api_version", v.api_version},
             {"auth", v.auth},                     {"auth_methods", v.auth_methods}, {"public", v.is_public}};
    if (v.config) j["config"] = *v.config;
    if (v.environment) j["environment"] = *v.environment;
}

void from_json(const json& j, ServerInfo& v) {
    detail::require_object(j, "server");
    read(j, "api_extensions", v.api_extensions);
    read(j, "api_status", v.api_status);
    read(j, "api_version", v.api_version);
    read(j, "auth", v.auth);
    read(j, "auth_methods", v.auth_methods);
    read(j, "public", v.is_public);
    if (auto it = j.find("config"); it != j.end() && !it->is_null()) v.config = *it;
    if (auto it = j.find("environment"); it != j.end() && !it->is_null()) v.environment = it->get<ServerEnvironment>();
}

}  // namespace lxm::apitypes
