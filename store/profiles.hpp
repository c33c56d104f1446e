// Profiles: named bundles of config and devices applied to instances in order.
// The "default" profile of project "default" is created by schema update 1;
// ensure_default_profile makes it for other projects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/config_maps.hpp"
#include "store/sqlite.hpp"

namespace lxm::store {

struct ProfileRecord {
    int64_t id = 0;
    std::string project = "default";
    std::string name;
    std::string description;
    ConfigMap config;
    DeviceMap devices;

    bool operator==(const ProfileRecord&) const = default;
};

Result<int64_t> create_profile(Transaction& tx, const ProfileRecord& rec);
Result<ProfileRecord> get_profile(Transaction& tx, std::string_view project, std::string_view name);
Result<std::vector<std::string>> list_profile_names(Transaction& tx, std::string_view project);
// Full records of a project, in 3 queries.
Result<std::vector<ProfileRecord>> list_profiles(Transaction& tx, std::string_view project);
// Replace description, config and devices of rec.project/rec.name.
Result<void> update_profile(Transaction& tx, const ProfileRecord& rec);
Result<void> rename_profile(Transaction& tx, std::string_view project, std::string_view name,
                            std::string_view new_name);
// std::errc::device_or_resource_busy while instances still use it.
Result<void> delete_profile(Transaction& tx, std::string_view project, std::string_view name);
// Names of the instances (same project) that apply this profile.
Result<std::vector<std::string>> profile_used_by(Transaction& tx, std::string_view project, std::string_view name);
// Create the project's "default" profile if missing.
Result<void> ensure_default_profile(Transaction& tx, std::string_view project);

}  // namespace lxm::store
