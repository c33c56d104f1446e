// Profile wire types (lxd:shared/api/profile.go).
#pragma once

#include <string>
#include <vector>

#include "lxm/apitypes/instance.hpp"

namespace lxm::apitypes {

struct ProfilePut {
    ConfigMap config;
    std::string description;
    DeviceMap devices;
};

struct Profile {
    std::string name;
    std::string description;
    ConfigMap config;
    DeviceMap devices;
    std::vector<std::string> used_by;
};

// POST /1.0/profiles
struct ProfilesPost {
    std::string name;
    ConfigMap config;
    std::string description;
    DeviceMap devices;
};

// POST /1.0/profiles/<n> (rename)
struct ProfilePost {
    std::string name;
};

void to_json(json& j, const ProfilePut& v);
void from_json(const json& j, ProfilePut& v);
void to_json(json& j, const Profile& v);
void from_json(const json& j, Profile& v);
void to_json(json& j, const ProfilesPost& v);
void from_json(const json& j, ProfilesPost& v);
void to_json(json& j, const ProfilePost& v);
void from_json(const json& j, ProfilePost& v);

}  // namespace lxm::apitypes
