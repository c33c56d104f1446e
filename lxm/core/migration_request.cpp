// The target's side of a migration request (POST /1.0/instances, source type migration): the
// new instance is the request's, not the stream's, as LXD's createFromMigration makes it.
// The client sends the source's config (without its volatile keys), devices and profiles with
// the user's overrides (lxc copy -c/-d/-p/-s/-e); this host checks them as a create before any
// operation exists, so a bad key or an unknown profile is a 400 and nothing is transferred.
// The stream brings the trees and the snapshots (with their own config).
#include "lxm/core/migration.hpp"

namespace lxm::core {

using base::Result;

namespace {

bool is_root_disk(const std::map<std::string, std::string>& d) {
    auto t = d.find("type"), p = d.find("path");
    return t != d.end() && t->second == "disk" && p != d.end() && p->second == "/";
}

}  // namespace

Result<void> Migration::check_receive(MigrationReceiveOptions& o) {
    if (o.config)
        for (auto it = o.config->begin(); it != o.config->end();) {
            if (it->first.starts_with("volatile.")) it = o.config->erase(it);
            else ++it;
        }
    if (o.refresh && instances_.get(o.name)) return {};  // the existing instance stays as it is

    // LXD's instanceFindStoragePool: a root disk naming a pool this host lacks (the source's)
    // loses that pool and the instance goes where its profiles (or the default) put it.
    DeviceMap devices = o.devices.value_or(DeviceMap{});
    std::string root_key;
    for (auto& [k, d] : devices)
        if (is_root_disk(d)) root_key = k;
    if (!root_key.empty()) {
        auto& d = devices[root_key];
        if (auto p = d.find("pool"); p != d.end() && (p->second.empty() || !state_.pool(p->second))) d.erase(p);
    }

    apitypes::InstancesPost req;
    req.name = o.name;
    req.type = "container";
    req.source.type = "none";
    req.config = o.config.value_or(ConfigMap{});
    req.devices = devices;
    // Not given: the stream's profiles, checked when the instance is made.
    req.profiles = o.profiles.value_or(std::vector<std::string>{});
    LXM_TRY_VOID(instances_.check_create(req));  // name, keys, devices, profiles, 409

    store::InstanceRecord probe;
    probe.name = o.name;
    probe.profiles = *req.profiles;
    probe.devices = devices;
    if (!root_key.empty() && !devices[root_key].count("pool")) probe.devices.erase(root_key);
    LXM_TRY(o.pool, instances_.import_pool_for(probe, ""));  // 400 for a root size the pool cannot limit
    if (o.devices) {
        if (!root_key.empty()) devices[root_key]["pool"] = o.pool;
        o.devices = std::move(devices);
    }
    return {};
}

Result<void> Migration::check_source_snapshot(const std::string& name, const std::string& snapshot) {
    LXM_TRY(auto s, instances_.snapshot(name, snapshot));
    (void)s;
    return {};
}

Backups::ImportAdjust Migration::receive_adjust(const MigrationReceiveOptions& o) {
    return [o](Instances::TreeImport& spec) {
        auto& rec = spec.rec;
        // As LXD's migration sink: the kept templates' copy trigger (the hostname of a copy, or of
        // a move under another name, is its own at the first start).
        spec.trigger = "copy";
        if (o.config) {
            // The base image stays as information (as a copy within a host keeps it).
            auto base = rec.config.find("volatile.base_image");
            ConfigMap c = *o.config;
            if (base != rec.config.end()) c.emplace(base->first, base->second);
            rec.config = std::move(c);
        }
        if (o.devices) rec.devices = *o.devices;
        if (o.profiles) rec.profiles = *o.profiles;
        if (o.ephemeral) rec.ephemeral = *o.ephemeral;
        if (o.description) rec.description = *o.description;
    };
}

}  // namespace lxm::core
