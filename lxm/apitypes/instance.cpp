#include "lxm/apitypes/instance.hpp"

namespace lxm::apitypes {
using detail::field;
using detail::read;
using detail::read_fields;
using detail::write_fields;

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

using Cpu = InstanceStateCpu;
using Mem = InstanceStateMemory;
using Addr = InstanceStateNetworkAddress;
using Counters = InstanceStateNetworkCounters;
using Net = InstanceStateNetwork;
using State = InstanceState;
using Snap = InstanceSnapshot;
using Backup = InstanceBackup;
using Put = InstancePut;
using Source = InstanceSource;
using Post = InstancesPost;
using StatePut = InstanceStatePut;
using Exec = InstanceExecPost;
using Rename = InstancePost;

const auto kCpu = std::tuple{field("usage", &Cpu::usage)};
const auto kMem = std::tuple{field("usage", &Mem::usage), field("usage_peak", &Mem::usage_peak),
                             field("swap_usage", &Mem::swap_usage), field("swap_usage_peak", &Mem::swap_usage_peak)};
const auto kDisk = std::tuple{field("usage", &InstanceStateDisk::usage)};
const auto kAddr = std::tuple{field("family", &Addr::family), field("address", &Addr::address),
                              field("netmask", &Addr::netmask), field("scope", &Addr::scope)};
const auto kCounters = std::tuple{
    field("bytes_received", &Counters::bytes_received),
    field("bytes_sent", &Counters::bytes_sent),
    field("packets_received", &Counters::packets_received),
    field("packets_sent", &Counters::packets_sent),
    field("errors_received", &Counters::errors_received),
    field("errors_sent", &Counters::errors_sent),
    field("packets_dropped_outbound", &Counters::packets_dropped_outbound),
    field("packets_dropped_inbound", &Counters::packets_dropped_inbound)};
const auto kNet = std::tuple{field("addresses", &Net::addresses), field("counters", &Net::counters),
                             field("hwaddr", &Net::hwaddr),       field("host_name", &Net::host_name),
                             field("mtu", &Net::mtu),             field("state", &Net::state),
                             field("type", &Net::type)};
// status_code, disk and network are written by hand (enum as int, empty maps as null).
const auto kState = std::tuple{field("status", &State::status), field("memory", &State::memory),
                               field("pid", &State::pid), field("processes", &State::processes),
                               field("cpu", &State::cpu)};
const auto kSnap = std::tuple{
    field("architecture", &Snap::architecture), field("config", &Snap::config),
    field("created_at", &Snap::created_at),     field("devices", &Snap::devices),
    field("ephemeral", &Snap::ephemeral),       field("expanded_config", &Snap::expanded_config),
    field("expanded_devices", &Snap::expanded_devices), field("last_used_at", &Snap::last_used_at),
    field("name", &Snap::name),                 field("profiles", &Snap::profiles),
    field("stateful", &Snap::stateful),         field("size", &Snap::size),
    field("expires_at", &Snap::expires_at)};
const auto kBackup = std::tuple{field("name", &Backup::name), field("created_at", &Backup::created_at),
                                field("expires_at", &Backup::expires_at),
                                field("instance_only", &Backup::instance_only),
                                field("optimized_storage", &Backup::optimized_storage)};
// status_code and the optional state/snapshots/backups are handled by hand.
const auto kInstance = std::tuple{
    field("architecture", &Instance::architecture), field("config", &Instance::config),
    field("devices", &Instance::devices),           field("ephemeral", &Instance::ephemeral),
    field("profiles", &Instance::profiles),         field("stateful", &Instance::stateful),
    field("description", &Instance::description),   field("created_at", &Instance::created_at),
    field("expanded_config", &Instance::expanded_config), field("expanded_devices", &Instance::expanded_devices),
    field("name", &Instance::name),                 field("status", &Instance::status),
    field("last_used_at", &Instance::last_used_at), field("location", &Instance::location),
    field("type", &Instance::type),                 field("project", &Instance::project)};
const auto kPut = std::tuple{field("architecture", &Put::architecture), field("config", &Put::config),
                             field("devices", &Put::devices),           field("ephemeral", &Put::ephemeral),
                             field("profiles", &Put::profiles),         field("restore", &Put::restore),
                             field("stateful", &Put::stateful),         field("description", &Put::description)};
const auto kSource = std::tuple{
    field("type", &Source::type),         field("certificate", &Source::certificate),
    field("alias", &Source::alias),       field("fingerprint", &Source::fingerprint),
    field("properties", &Source::properties), field("server", &Source::server),
    field("secret", &Source::secret),     field("protocol", &Source::protocol),
    field("base-image", &Source::base_image), field("mode", &Source::mode),
    field("operation", &Source::operation), field("secrets", &Source::secrets),
    field("source", &Source::source),     field("live", &Source::live),
    field("instance_only", &Source::instance_only), field("container_only", &Source::container_only),
    field("refresh", &Source::refresh),   field("project", &Source::project),
    field("allow_inconsistent", &Source::allow_inconsistent)};
// profiles is optional (null means "the default profile") and handled by hand.
const auto kPost = std::tuple{field("architecture", &Post::architecture), field("config", &Post::config),
                              field("devices", &Post::devices),           field("ephemeral", &Post::ephemeral),
                              field("stateful", &Post::stateful),         field("description", &Post::description),
                              field("name", &Post::name),                 field("source", &Post::source),
                              field("instance_type", &Post::instance_type), field("type", &Post::type)};
const auto kStatePut = std::tuple{field("action", &StatePut::action), field("timeout", &StatePut::timeout),
                                  field("force", &StatePut::force), field("stateful", &StatePut::stateful)};
const auto kExec = std::tuple{field("command", &Exec::command),         field("environment", &Exec::environment),
                              field("interactive", &Exec::interactive), field("wait-for-websocket", &Exec::wait_for_websocket),
                              field("record-output", &Exec::record_output), field("width", &Exec::width),
                              field("height", &Exec::height),           field("user", &Exec::user),
                              field("group", &Exec::group),             field("cwd", &Exec::cwd)};
const auto kRename = std::tuple{field("name", &Rename::name), field("migration", &Rename::migration),
                                field("live", &Rename::live), field("instance_only", &Rename::instance_only),
                                field("container_only", &Rename::container_only), field("pool", &Rename::pool),
                                field("project", &Rename::project)};
}  // namespace

void to_json(json& j, const InstanceStateCpu& v) { write_fields(j, v, kCpu); }
void from_json(const json& j, InstanceStateCpu& v) { read_fields(j, v, kCpu, "cpu"); }

void to_json(json& j, const InstanceStateMemory& v) { write_fields(j, v, kMem); }
void from_json(const json& j, InstanceStateMemory& v) { read_fields(j, v, kMem, "memory"); }

void to_json(json& j, const InstanceStateDisk& v) { write_fields(j, v, kDisk); }
void from_json(const json& j, InstanceStateDisk& v) { read_fields(j, v, kDisk, "disk"); }

void to_json(json& j, const InstanceStateNetworkAddress& v) { write_fields(j, v, kAddr); }
void from_json(const json& j, InstanceStateNetworkAddress& v) { read_fields(j, v, kAddr, "address"); }

void to_json(json& j, const InstanceStateNetworkCounters& v) { write_fields(j, v, kCounters); }
void from_json(const json& j, InstanceStateNetworkCounters& v) { read_fields(j, v, kCounters, "counters"); }

void to_json(json& j, const InstanceStateNetwork& v) { write_fields(j, v, kNet); }
void from_json(const json& j, InstanceStateNetwork& v) { read_fields(j, v, kNet, "network"); }

void to_json(json& j, const InstanceState& v) {
    write_fields(j, v, kState);
    j["status_code"] = static_cast<int>(v.status_code);
    j["disk"] = map_or_null(v.disk);
    j["network"] = map_or_null(v.network);
}
void from_json(const json& j, InstanceState& v) {
    read_fields(j, v, kState, "state");
    read_status(j, v.status_code);
    read(j, "disk", v.disk);
    read(j, "network", v.network);
}

void to_json(json& j, const InstanceSnapshot& v) { write_fields(j, v, kSnap); }
void from_json(const json& j, InstanceSnapshot& v) { read_fields(j, v, kSnap, "snapshot"); }

void to_json(json& j, const InstanceBackup& v) {
    write_fields(j, v, kBackup);
    j["container_only"] = v.instance_only;
}
void from_json(const json& j, InstanceBackup& v) { read_fields(j, v, kBackup, "backup"); }

void to_json(json& j, const Instance& v) {
    write_fields(j, v, kInstance);
    j["status_code"] = static_cast<int>(v.status_code);
    if (v.state) j["state"] = *v.state;
    if (v.snapshots) j["snapshots"] = *v.snapshots;
    if (v.backups) j["backups"] = *v.backups;
}
void from_json(const json& j, Instance& v) {
    read_fields(j, v, kInstance, "instance");
    read_status(j, v.status_code);
    if (auto it = j.find("state"); it != j.end() && !it->is_null()) v.state = it->get<InstanceState>();
    // LXD sends "snapshots": null for an instance without snapshots in recursion=2.
    if (auto it = j.find("snapshots"); it != j.end())
        v.snapshots = it->is_null() ? std::vector<InstanceSnapshot>{} : it->get<std::vector<InstanceSnapshot>>();
    if (auto it = j.find("backups"); it != j.end())
        v.backups = it->is_null() ? std::vector<InstanceBackup>{} : it->get<std::vector<InstanceBackup>>();
}

void to_json(json& j, const InstancePut& v) { write_fields(j, v, kPut); }
void from_json(const json& j, InstancePut& v) { read_fields(j, v, kPut, "instance"); }

void to_json(json& j, const InstanceSource& v) { write_fields(j, v, kSource); }
void from_json(const json& j, InstanceSource& v) { read_fields(j, v, kSource, "source"); }

void to_json(json& j, const InstancesPost& v) {
    write_fields(j, v, kPost);
    j["profiles"] = v.profiles ? json(*v.profiles) : json(nullptr);
}
void from_json(const json& j, InstancesPost& v) {
    read_fields(j, v, kPost, "instance");
    if (auto it = j.find("profiles"); it != j.end() && !it->is_null()) v.profiles = it->get<std::vector<std::string>>();
}

void to_json(json& j, const InstanceStatePut& v) { write_fields(j, v, kStatePut); }
void from_json(const json& j, InstanceStatePut& v) { read_fields(j, v, kStatePut, "state"); }

void to_json(json& j, const InstanceExecPost& v) { write_fields(j, v, kExec); }
void from_json(const json& j, InstanceExecPost& v) { read_fields(j, v, kExec, "exec"); }

void to_json(json& j, const InstanceSnapshotsPost& v) {
    j = json{{"name", v.name}, {"stateful", v.stateful}, {"expires_at", v.expires_at ? json(*v.expires_at) : json(nullptr)}};
}
void from_json(const json& j, InstanceSnapshotsPost& v) {
    detail::require_object(j, "snapshot");
    read(j, "name", v.name);
    read(j, "stateful", v.stateful);
    if (auto it = j.find("expires_at"); it != j.end() && !it->is_null()) v.expires_at = it->get<Timestamp>();
}

void to_json(json& j, const InstancePost& v) { write_fields(j, v, kRename); }
void from_json(const json& j, InstancePost& v) { read_fields(j, v, kRename, "instance"); }

}  // namespace lxm::apitypes
