#include "lxm/core/profiles.hpp"

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/log.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/names.hpp"
#include "store/profiles.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;

namespace {
constexpr const char* kProject = "default";

base::Unexpected not_found(const std::string& name) {
    return http_error(404, "Profile \"" + name.substr(0, 64) + "\" not found");
}

template <typename T>
Result<T> map_not_found(Result<T> r, const std::string& name) {
    if (!r && r.error().code == std::errc::no_such_file_or_directory && apitypes::http_status_of(r.error()) == 0)
        return not_found(name);
    return r;
}

apitypes::Profile to_api(const store::ProfileRecord& r, const std::vector<std::string>& used_by) {
    apitypes::Profile p;
    p.name = r.name;
    p.description = r.description;
    p.config = r.config;
    p.devices = r.devices;
    for (const auto& i : used_by) p.used_by.push_back("/1.0/instances/" + i);
    return p;
}
}  // namespace

Result<std::vector<std::string>> Profiles::names() {
    return state_.store().read([](store::Transaction& tx) { return store::list_profile_names(tx, kProject); });
}

Result<apitypes::Profile> Profiles::get(const std::string& name) {
    return map_not_found(state_.store().read([&](store::Transaction& tx) -> Result<apitypes::Profile> {
        LXM_TRY(auto rec, store::get_profile(tx, kProject, name));
        LXM_TRY(auto used, store::profile_used_by(tx, kProject, name));
        return to_api(rec, used);
    }), name);
}

Result<std::vector<apitypes::Profile>> Profiles::list() {
    return state_.store().read([&](store::Transaction& tx) -> Result<std::vector<apitypes::Profile>> {
        LXM_TRY(auto recs, store::list_profiles(tx, kProject));
        std::vector<apitypes::Profile> out;
        for (const auto& r : recs) {
            LXM_TRY(auto used, store::profile_used_by(tx, kProject, r.name));
            out.push_back(to_api(r, used));
        }
        return out;
    });
}

Result<nlohmann::json> Profiles::etag_state(const std::string& name) {
    LXM_TRY(auto p, get(name));
    return nlohmann::json{{"config", p.config}, {"description", p.description}, {"devices", p.devices}};
}

Result<void> Profiles::create(const apitypes::ProfilesPost& req) {
    LXM_TRY_VOID(validate_object_name("profile", req.name));
    LXM_TRY_VOID(validate_config(req.config));
    LXM_TRY_VOID(validate_devices(req.devices));
    store::ProfileRecord rec;
    rec.name = req.name;
    rec.description = req.description;
    rec.config = req.config;
    rec.devices = req.devices;
    auto r = state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY_VOID(store::create_profile(tx, rec));
        return {};
    });
    if (!r && r.error().code == std::errc::file_exists)
        return http_error(409, "Profile \"" + req.name + "\" already exists");
    return r;
}

Result<void> Profiles::update(const std::string& name, const apitypes::ProfilePut& put) {
    LXM_TRY_VOID(validate_config(put.config));
    LXM_TRY_VOID(validate_devices(put.devices));
    // The instances using the profile see its new root disk: checked before, applied after.
    LXM_TRY(std::vector<std::string> users, map_not_found(state_.store().read([&](store::Transaction& tx) {
        return store::profile_used_by(tx, kProject, name);
    }), name));
    LXM_TRY(std::vector<std::string> resized, instances_.check_profile_devices(name, put.devices, users));
    std::vector<std::string> used;
    LXM_TRY_VOID(map_not_found(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY(auto rec, store::get_profile(tx, kProject, name));
        rec.description = put.description;
        rec.config = put.config;
        rec.devices = put.devices;
        LXM_TRY_VOID(store::update_profile(tx, rec));
        LXM_TRY(used, store::profile_used_by(tx, kProject, name));
        return {};
    }), name));
    Result<void> applied;
    for (const auto& i : resized)
        if (auto r = instances_.reapply_root_quota(i); !r && applied) applied = std::unexpected(r.error());
    for (const auto& i : used)
        if (auto r = instances_.rewrite_backup(i); !r) LXM_WARN("instance {}: {}", i, r.error().message());
    return applied;
}

Result<void> Profiles::rename(const std::string& name, const std::string& new_name) {
    if (name == "default") return http_error(403, "The \"default\" profile cannot be renamed");
    LXM_TRY_VOID(validate_object_name("profile", new_name));
    std::vector<std::string> used;
    auto r = state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        LXM_TRY_VOID(store::rename_profile(tx, kProject, name, new_name));
        LXM_TRY(used, store::profile_used_by(tx, kProject, new_name));
        return {};
    });
    if (!r && r.error().code == std::errc::file_exists)
        return http_error(409, "Profile \"" + new_name + "\" already exists");
    LXM_TRY_VOID(map_not_found(std::move(r), name));
    for (const auto& i : used)
        if (auto b = instances_.rewrite_backup(i); !b) LXM_WARN("instance {}: {}", i, b.error().message());
    return {};
}

Result<void> Profiles::remove(const std::string& name) {
    if (name == "default") return http_error(403, "The \"default\" profile cannot be deleted");
    auto r = state_.store().transaction(
        [&](store::Transaction& tx) { return store::delete_profile(tx, kProject, name); });
    if (!r && r.error().code == std::errc::device_or_resource_busy)
        return http_error(400, "Profile \"" + name + "\" is currently in use");
    return map_not_found(std::move(r), name);
}

}  // namespace lxm::core
