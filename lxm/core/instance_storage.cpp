// Instances and storage pools: which pool holds an instance's root volume (the
// root disk device's "pool"), root disk quotas (its "size"), and copying an
// instance's snapshots with it.
#include <algorithm>
#include <chrono>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/instances.hpp"
#include "lxm/core/names.hpp"
#include "store/profiles.hpp"
#include "store/snapshots.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;

namespace {

constexpr const char* kProject = "default";

// The root disk device (type disk, path /) of expanded devices, if any.
const std::map<std::string, std::string>* root_disk(const DeviceMap& devices) {
    for (const auto& [name, dev] : devices) {
        auto t = dev.find("type");
        auto p = dev.find("path");
        if (t != dev.end() && t->second == "disk" && p != dev.end() && p->second == "/") return &dev;
    }
    return nullptr;
}

Result<std::optional<uint64_t>> root_size(const DeviceMap& devices) {
    const auto* d = root_disk(devices);
    if (!d) return std::optional<uint64_t>();
    auto it = d->find("size");
    if (it == d->end() || it->second.empty()) return std::optional<uint64_t>();
    auto b = parse_bytes(it->second);
    if (!b) return http_error(400, "Invalid root disk size \"" + it->second.substr(0, 32) + "\": " + b.error().context);
    if (*b < 1024 * 1024) return http_error(400, "Root disk size must be at least 1MiB");
    return std::optional<uint64_t>(static_cast<uint64_t>(*b));
}

}  // namespace

store::PoolDriver& Instances::pool_of(const std::string& name) const {
    auto rec = state_.store().read([&](store::Transaction& tx) { return store::get_instance(tx, kProject, name); });
    if (!rec || rec->storage_pool.empty()) return state_.pool();
    auto p = state_.pool(rec->storage_pool);
    if (!p) {
        LXM_WARN("instance {}: {}", name, p.error().message());
        return state_.pool();
    }
    return **p;
}

Result<std::string> Instances::root_pool_for(const apitypes::InstancesPost& req, const std::optional<Loaded>& source) {
    std::vector<std::string> profiles = req.profiles.value_or(
        source ? source->rec.profiles : std::vector<std::string>{"default"});
    LXM_TRY(std::vector<store::ProfileRecord> recs, state_.store().read([&](store::Transaction& tx)
                                                                            -> Result<std::vector<store::ProfileRecord>> {
        std::vector<store::ProfileRecord> out;
        for (const auto& p : profiles) {
            auto pr = store::get_profile(tx, kProject, p);
            if (!pr) continue;  // check_create reports missing profiles
            out.push_back(std::move(*pr));
        }
        return out;
    }));
    std::vector<const DeviceMap*> layers;
    for (const auto& p : recs) layers.push_back(&p.devices);
    if (source) layers.push_back(&source->rec.devices);
    layers.push_back(&req.devices);
    DeviceMap expanded = expand_devices(layers);
    std::string pool;
    if (const auto* d = root_disk(expanded); d && d->count("pool")) pool = d->at("pool");
    if (pool.empty()) pool = source && !source->rec.storage_pool.empty() ? source->rec.storage_pool : state_.pool_name();
    if (!state_.pool(pool)) return http_error(400, "Storage pool \"" + pool.substr(0, 64) + "\" not found");
    LXM_TRY(store::PoolDriver * driver, state_.pool(pool));
    LXM_TRY_VOID(check_root_quota(*driver, expanded));
    return pool;
}

Result<void> Instances::check_root_quota(store::PoolDriver& pool, const DeviceMap& expanded_devices) {
    LXM_TRY(auto size, root_size(expanded_devices));
    if (!size) return {};
    if (auto r = pool.check_quota(); !r) return http_error(400, "Root disk size: " + r.error().message());
    return {};
}

Result<void> Instances::check_root_update(const Loaded& l, const DeviceMap& after) {
    std::string cur = l.rec.storage_pool.empty() ? state_.pool_name() : l.rec.storage_pool;
    if (const auto* d = root_disk(after); d && d->count("pool") && !d->at("pool").empty() && d->at("pool") != cur)
        return http_error(400, "The root disk cannot move to another storage pool (the instance is in \"" + cur + "\")");
    if (!root_size_changed(l.expanded_devices, after)) return {};
    LXM_TRY(store::PoolDriver * pool, state_.pool(cur));
    return check_root_quota(*pool, after);
}

bool Instances::root_size_changed(const DeviceMap& before, const DeviceMap& after) {
    auto size = [](const DeviceMap& d) -> std::string {
        const auto* r = root_disk(d);
        if (!r) return {};
        auto it = r->find("size");
        return it == r->end() ? std::string() : it->second;
    };
    return size(before) != size(after);
}

Result<void> Instances::apply_root_quota(const std::string& name, const DeviceMap& expanded_devices) {
    LXM_TRY(auto size, root_size(expanded_devices));
    auto& pool = pool_of(name);
    if (!size) {
        // Lift a limit only where limits exist at all (no error on pools without quotas).
        if (!pool.check_quota()) return {};
    }
    return base::wrap(pool.set_instance_quota(name, size), "root disk quota of " + name);
}

Result<std::vector<std::string>> Instances::check_profile_devices(const std::string& profile,
                                                                  const DeviceMap& new_devices,
                                                                  const std::vector<std::string>& used_by) {
    std::vector<std::string> resized;
    for (const auto& name : used_by) {
        auto l = load(name);
        if (!l) continue;  // deleted meanwhile
        LXM_TRY(auto profiles, state_.store().read([&](store::Transaction& tx)
                                                       -> Result<std::vector<store::ProfileRecord>> {
            std::vector<store::ProfileRecord> out;
            for (const auto& p : l->rec.profiles) {
                if (p == profile) {
                    out.emplace_back();
                    continue;
                }
                LXM_TRY(auto pr, store::get_profile(tx, kProject, p));
                out.push_back(std::move(pr));
            }
            return out;
        }));
        std::vector<const DeviceMap*> layers;
        for (size_t i = 0; i < profiles.size(); ++i)
            layers.push_back(l->rec.profiles[i] == profile ? &new_devices : &profiles[i].devices);
        layers.push_back(&l->rec.devices);
        DeviceMap after = expand_devices(layers);
        auto ok = check_root_update(*l, after);
        if (!ok) {
            if (apitypes::http_status_of(ok.error()) != 400) return std::unexpected(ok.error());
            return http_error(400, "Instance \"" + name + "\": " + apitypes::user_message(ok.error()));
        }
        if (root_size_changed(l->expanded_devices, after)) resized.push_back(name);
    }
    return resized;
}

Result<void> Instances::reapply_root_quota(const std::string& name) {
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    return apply_root_quota(name, l.expanded_devices);
}

Result<void> Instances::move_to_pool(const std::string& name, const std::string& pool, const std::string& new_name,
                                     const Progress& progress) {
    const std::string target = new_name.empty() ? name : new_name;
    LXM_TRY_VOID(validate_instance_name(target));
    LXM_TRY(Loaded l, load(name));
    if (!state_.pool(pool)) return http_error(400, "Storage pool \"" + pool.substr(0, 64) + "\" not found");
    const std::string cur = l.rec.storage_pool.empty() ? state_.pool_name() : l.rec.storage_pool;
    if (pool == cur) {
        if (target != name) return rename(name, target);
        return http_error(400, "Instance \"" + name + "\" is already in storage pool \"" + pool + "\"");
    }
    LXM_TRY(auto st, state(name));
    if (st.status != "Stopped") return http_error(400, "The instance must be stopped to move it to another storage pool");
    if (target != name && load(target)) return http_error(409, "Instance \"" + target + "\" already exists");

    // The copy: the instance's own config, devices and profiles; its root disk (its own, or
    // the one its profiles give it, made its own) on the new pool.
    apitypes::InstancesPost req;
    req.name = "lxm-move-" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                                 std::chrono::steady_clock::now().time_since_epoch())
                                                 .count() %
                                             1000000000000LL);
    req.source.type = "copy";
    req.source.source = name;
    req.config = l.rec.config;
    req.devices = l.rec.devices;
    req.profiles = l.rec.profiles;
    req.description = l.rec.description;
    req.ephemeral = l.rec.ephemeral;
    bool placed = false;
    for (auto& [dn, d] : req.devices)
        if (d.count("type") && d.at("type") == "disk" && d.count("path") && d.at("path") == "/") {
            d["pool"] = pool;
            placed = true;
        }
    if (!placed) {
        std::string dev_name = "root";
        std::map<std::string, std::string> dev{{"type", "disk"}, {"path", "/"}};
        for (const auto& [dn, d] : l.expanded_devices)
            if (d.count("type") && d.at("type") == "disk" && d.count("path") && d.at("path") == "/") {
                dev_name = dn;
                dev = d;
            }
        dev["pool"] = pool;
        req.devices[dev_name] = dev;
    }
    if (progress) progress({{"progress", "copying into pool " + pool}});
    LXM_TRY_VOID(base::wrap(create(req, progress), "move " + name + " to pool " + pool));
    // The source goes only once the copy is complete.
    if (auto r = remove(name); !r) {
        if (auto u = remove(req.name); !u) LXM_WARN("move of {}: removing the copy {}: {}", name, req.name, u.error().message());
        return std::unexpected(base::wrap(r.error(), "move " + name + ": delete the source"));
    }
    if (auto r = rename(req.name, target); !r)
        return std::unexpected(base::wrap(r.error(), "move " + name + ": the copy in pool " + pool + " is named " +
                                                         req.name + " (renaming it failed)"));
    return {};
}

Result<void> Instances::copy_snapshots(const std::string& from, const std::string& to, uid_t owner) {
    LXM_TRY(auto recs, state_.store().read([&](store::Transaction& tx) {
        return store::list_snapshots(tx, kProject, from);
    }));
    auto& pool = pool_of(from);
    for (auto s : recs) {
        if (s.config.count(std::string(kCreatingKey)) || s.config.count(std::string(kDeletingKey))) continue;
        LXM_TRY_VOID(base::wrap(pool.copy_snapshot(from, s.name, to, s.name, owner, owner),
                                "copy snapshot " + from + "/" + s.name));
        for (auto it = s.config.begin(); it != s.config.end();)
            it = it->first.starts_with("volatile.") && it->first != "volatile.base_image" ? s.config.erase(it) : std::next(it);
        s.id = 0;
        LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
            LXM_TRY(auto id, store::create_snapshot(tx, kProject, to, s));
            (void)id;
            return {};
        }));
    }
    return {};
}

}  // namespace lxm::core
