#include "lxm/apitypes/instance.hpp"

namespace lxm::apitypes {
using detail::read;
using detail::require_object;

namespace {
// Go renders a nil map as null; LXD clients accept both, we write {} except where LXD is known to send null.
template <typename M>
json map_or_null(const M& m) {
    return m.empty() ? json(nullptr) : json(m);
}
void read_status(const json& j, StatusCode& out) {
    int code = static_cast<int>(out);
    read(j, "status_code", code);
    out = static_cast<StatusCode>(code);
}
}  // namespace

void to_json(json& j, const InstanceStateCpu& v) { j = json{{"usage", v.usage}}; }
void from_json(const json& j, InstanceStateCpu& v) {
    require_object(j, "cpu");
    read(j, "usage", v.usage);
}

void to_json(json& j, const InstanceStateMemory& v) {
    j = json{{"usage", v.usage},
             {"usage_peak", v.usage_peak},
             {"swap_usage", v.swap_usage},
             {"swap_usage_peak", v.swap_usage_peak}};
}
void from_json(const json& j, InstanceStateMemory& v) {
    require_object(j, "memory");
    read(j, "usage", v.usage);
    read(j, "usage_peak", v.usage_peak);
    read(j, "swap_usage", v.swap_usage);
    read(j, "swap_usage_peak", v.swap_usage_peak);
}

void to_json(json& j, const InstanceStateDisk& v) { j = json{{"usage", v.usage}}; }
void from_json(const json& j, InstanceStateDisk& v) {
    require_object(j, "disk");
    read(j, "usage", v.usage);
}

void to_json(json& j, const InstanceStateNetworkAddress& v) {
    j = json{{"family", v.family}, {"address", v.address}, {"netmask", v.netmask}, {"scope", v.scope}};
}
void from_json(const json& j, InstanceStateNetworkAddress& v) {
    require_object(j, "address");
    read(j, "family", v.family);
    read(j, "address", v.address);
    read(j, "netmask", v.netmask);
    read(j, "scope", v.scope);
}

void to_json(json& j, const InstanceStateNetworkCounters& v) {
    j = json{{"bytes_received", v.bytes_received},
             {"bytes_sent", v.bytes_sent},
             {"packets_received", v.packets_received},
             {"packets_sent", v.packets_sent},
             {"errors_received", v.errors_received},
             {"errors_sent", v.errors_sent},
             {"packets_dropped_outbound", v.packets_dropped_outbound},
             {"packets_dropped_inbound", v.packets_dropped_inbound}};
}
void from_json(const json& j, InstanceStateNetworkCounters& v) {
    require_object(j, "counters");
    read(j, "bytes_received", v.bytes_received);
    read(j, "bytes_sent", v.bytes_sent);
    read(j, "packets_received", v.packets_received);
    read(j, "packets_sent", v.packets_sent);
    read(j, "errors_received", v.errors_received);
    read(j, "errors_sent", v.errors_sent);
    read(j, "packets_dropped_outbound", v.packets_dropped_outbound);
    read(j, "packets_dropped_inbound", v.packets_dropped_inbound);
}

void to_json(json& j, const InstanceStateNetwork& v) {
    j = json{{"addresses", v.addresses}, {"counters", v.counters}, {"hwaddr", v.hwaddr},
             {"host_name", v.host_name}, {"mtu", v.mtu},           {"state", v.state},
             {"type", v.type}};
}
void from_json(const json& j, InstanceStateNetwork& v) {
    require_object(j, "network");
    read(j, "addresses", v.addresses);
    read(j, "counters", v.counters);
    read(j, "hwaddr", v.hwaddr);
    read(j, "host_name", v.host_name);
    read(j, "mtu", v.mtu);
    read(j, "state", v.state);
    read(j, "type", v.type);
}

void to_json(json& j, const InstanceState& v) {
    j = json{{"status", v.status},
             {"status_code", static_cast<int>(v.status_code)},
             {"disk", map_or_null(v.disk)},
             {"memory", v.memory},
             {"network", map_or_null(v.network)},
             {"pid", v.pid},
             {"processes", v.processes},
             {"cpu", v.cpu}};
}
void from_json(const json& j, InstanceState& v) {
    require_object(j, "state");
    read(j, "status", v.status);
    read_status(j, v.status_code);
    read(j, "disk", v.disk);
    read(j, "memory", v.memory);
    read(j, "network", v.network);
    read(j, "pid", v.pid);
    read(j, "processes", v.processes);
    read(j, "cpu", v.cpu);
}

void to_json(json& j, const InstanceSnapshot& v) {
    j = json{{"architecture", v.architecture},
             {"config", v.config},
             {"created_at", v.created_at},
             {"devices", v.devices},
             {"ephemeral", v.ephemeral},
             {"expanded_config", v.expanded_config},
             {"expanded_devices", v.expanded_devices},
             {"last_used_at", v.last_used_at},
             {"name", v.name},
             {"profiles", v.profiles},
             {"stateful", v.stateful},
             {"size", v.size},
             {"expires_at", v.expires_at}};
}
void from_json(const json& j, InstanceSnapshot& v) {
    require_object(j, "snapshot");
    read(j, "architecture", v.architecture);
    read(j, "config", v.config);
    read(j, "created_at", v.created_at);
    read(j, "devices", v.devices);
    read(j, "ephemeral", v.ephemeral);
    read(j, "expanded_config", v.expanded_config);
    read(j, "expanded_devices", v.expanded_devices);
    read(j, "last_used_at", v.last_used_at);
    read(j, "name", v.name);
    read(j, "profiles", v.profiles);
    read(j, "stateful", v.stateful);
    read(j, "size", v.size);
    read(j, "expires_at", v.expires_at);
}

void to_json(json& j, const InstanceBackup& v) {
    j = json{{"name", v.name},
             {"created_at", v.created_at},
             {"expires_at", v.expires_at},
             {"instance_only", v.instance_only},
             {"container_only", v.instance_only},
             {"optimized_storage", v.optimized_storage}};
}
void from_json(const json& j, InstanceBackup& v) {
    require_object(j, "backup");
    read(j, "name", v.name);
    read(j, "created_at", v.created_at);
    read(j, "expires_at", v.expires_at);
    read(j, "instance_only", v.instance_only);
    read(j, "optimized_storage", v.optimized_storage);
}

void to_json(json& j, const Instance& v) {
    j = json{{"architecture", v.architecture},
             {"config", v.config},
             {"devices", v.devices},
             {"ephemeral", v.ephemeral},
             {"profiles", v.profiles},
             {"stateful", v.stateful},
             {"description", v.description},
             {"created_at", v.created_at},
             {"expanded_config", v.expanded_config},
             {"expanded_devices", v.expanded_devices},
             {"name", v.name},
             {"status", v.status},
             {"status_code", static_cast<int>(v.status_code)},
             {"last_used_at", v.last_used_at},
             {"location", v.location},
             {"type", v.type},
             {"project", v.project}};
    if (v.state) j["state"] = *v.state;
    if (v.snapshots) j["snapshots"] = *v.snapshots;
    if (v.backups) j["backups"] = *v.backups;
}
void from_json(const json& j, Instance& v) {
    require_object(j, "instance");
    read(j, "architecture", v.architecture);
    read(j, "config", v.config);
    read(j, "devices", v.devices);
    read(j, "ephemeral", v.ephemeral);
    read(j, "profiles", v.profiles);
    read(j, "stateful", v.stateful);
    read(j, "description", v.description);
    read(j, "created_at", v.created_at);
    read(j, "expanded_config", v.expanded_config);
    read(j, "expanded_devices", v.expanded_devices);
    read(j, "name", v.name);
    read(j, "status", v.status);
    read_status(j, v.status_code);
    read(j, "last_used_at", v.last_used_at);
    read(j, "location", v.location);
    read(j, "type", v.type);
    read(j, "project", v.project);
    if (auto it = j.find("state"); it != j.end() && !it->is_null()) v.state = it->get<InstanceState>();
    // LXD sends "snapshots": null for an instance without snapshots in recursion=2.
    if (auto it = j.find("snapshots"); it != j.end())
        v.snapshots = it->is_null() ? std::vector<InstanceSnapshot>{} : it->get<std::vector<InstanceSnapshot>>();
    if (auto it = j.find("backups"); it != j.end())
        v.backups = it->is_null() ? std::vector<InstanceBackup>{} : it->get<std::vector<InstanceBackup>>();
}

void to_json(json& j, const InstancePut& v) {
    j = json{{"architecture", v.architecture}, {"config", v.config},     {"devices", v.devices},
             {"ephemeral", v.ephemeral},       {"profiles", v.profiles}, {"restore", v.restore},
             {"stateful", v.stateful},         {"description", v.description}};
}
void from_json(const json& j, InstancePut& v) {
    require_object(j, "instance");
    read(j, "architecture", v.architecture);
    read(j, "config", v.config);
    read(j, "devices", v.devices);
    read(j, "ephemeral", v.ephemeral);
    read(j, "profiles", v.profiles);
    read(j, "restore", v.restore);
    read(j, "stateful", v.stateful);
    read(j, "description", v.description);
}

void to_json(json& j, const InstanceSource& v) {
    j = json{{"type", v.type},
             {"certificate", v.certificate},
             {"alias", v.alias},
             {"fingerprint", v.fingerprint},
             {"properties", v.properties},
             {"server", v.server},
             {"secret", v.secret},
             {"protocol", v.protocol},
             {"base-image", v.base_image},
             {"mode", v.mode},
             {"operation", v.operation},
             {"secrets", v.secrets},
             {"source", v.source},
             {"live", v.live},
             {"instance_only", v.instance_only},
             {"container_only", v.container_only},
             {"refresh", v.refresh},
             {"project", v.project},
             {"allow_inconsistent", v.allow_inconsistent}};
}
void from_json(const json& j, InstanceSource& v) {
    require_object(j, "source");
    read(j, "type", v.type);
    read(j, "certificate", v.certificate);
    read(j, "alias", v.alias);
    read(j, "fingerprint", v.fingerprint);
    read(j, "properties", v.properties);
    read(j, "server", v.server);
    read(j, "secret", v.secret);
    read(j, "protocol", v.protocol);
    read(j, "base-image", v.base_image);
    read(j, "mode", v.mode);
    read(j, "operation", v.operation);
    read(j, "secrets", v.secrets);
    read(j, "source", v.source);
    read(j, "live", v.live);
    read(j, "instance_only", v.instance_only);
    read(j, "container_only", v.container_only);
    read(j, "refresh", v.refresh);
    read(j, "project", v.project);
    read(j, "allow_inconsistent", v.allow_inconsistent);
}

void to_json(json& j, const InstancesPost& v) {
    j = json{{"architecture", v.architecture},
             {"config", v.config},
             {"devices", v.devices},
             {"ephemeral", v.ephemeral},
             {"profiles", v.profiles ? json(*v.profiles) : json(nullptr)},
             {"stateful", v.stateful},
             {"description", v.description},
             {"name", v.name},
             {"source", v.source},
             {"instance_type", v.instance_type},
             {"type", v.type}};
}
void from_json(const json& j, InstancesPost& v) {
    require_object(j, "instance");
    read(j, "architecture", v.architecture);
    read(j, "config", v.config);
    read(j, "devices", v.devices);
    read(j, "ephemeral", v.ephemeral);
    if (auto it = j.find("profiles"); it != j.end() && !it->is_null()) v.profiles = it->get<std::vector<std::string>>();
    read(j, "stateful", v.stateful);
    read(j, "description", v.description);
    read(j, "name", v.name);
    read(j, "source", v.source);
    read(j, "instance_type", v.instance_type);
    read(j, "type", v.type);
}

void to_json(json& j, const InstanceStatePut& v) {
    j = json{{"action", v.action}, {"timeout", v.timeout}, {"force", v.force}, {"stateful", v.stateful}};
}
void from_json(const json& j, InstanceStatePut& v) {
    require_object(j, "state");
    read(j, "action", v.action);
    read(j, "timeout", v.timeout);
    read(j, "force", v.force);
    read(j, "stateful", v.stateful);
}

void to_json(json& j, const InstanceExecPost& v) {
    j = json{{"command", v.command},
             {"environment", v.environment},
             {"interactive", v.interactive},
             {"wait-for-websocket", v.wait_for_websocket},
             {"record-output", v.record_output},
             {"width", v.width},
             {"height", v.height},
             {"user", v.user},
             {"group", v.group},
             {"cwd", v.cwd}};
}
void from_json(const json& j, InstanceExecPost& v) {
    require_object(j, "exec");
    read(j, "command", v.command);
    read(j, "environment", v.environment);
    read(j, "interactive", v.interactive);
    read(j, "wait-for-websocket", v.wait_for_websocket);
    read(j, "record-output", v.record_output);
    read(j, "width", v.width);
    read(j, "height", v.height);
    read(j, "user", v.user);
    read(j, "group", v.group);
    read(j, "cwd", v.cwd);
}

void to_json(json& j, const InstanceSnapshotsPost& v) {
    j = json{{"name", v.name}, {"stateful", v.stateful}, {"expires_at", v.expires_at ? json(*v.expires_at) : json(nullptr)}};
}
void from_json(const json& j, InstanceSnapshotsPost& v) {
    require_object(j, "snapshot");
    read(j, "name", v.name);
    read(j, "stateful", v.stateful);
    if (auto it = j.find("expires_at"); it != j.end() && !it->is_null()) v.expires_at = it->get<Timestamp>();
}

void to_json(json& j, const InstancePost& v) {
    j = json{{"name", v.name},
             {"migration", v.migration},
             {"live", v.live},
             {"instance_only", v.instance_only},
             {"container_only", v.container_only},
             {"pool", v.pool},
             {"project", v.project}};
}
void from_json(const json& j, InstancePost& v) {
    require_object(j, "instance");
    read(j, "name", v.name);
    read(j, "migration", v.migration);
    read(j, "live", v.live);
    read(j, "instance_only", v.instance_only);
    read(j, "container_only", v.container_only);
    read(j, "pool", v.pool);
    read(j, "project", v.project);
}

}  // namespace lxm::apitypes
