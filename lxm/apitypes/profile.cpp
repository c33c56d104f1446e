#include "lxm/apitypes/profile.hpp"

namespace lxm::apitypes {
using detail::read;
using detail::require_object;

void to_json(json& j, const ProfilePut& v) {
    j = json{{"config", v.config}, {"description", v.description}, {"devices", v.devices}};
}
void from_json(const json& j, ProfilePut& v) {
    require_object(j, "profile");
    read(j, "config", v.config);
    read(j, "description", v.description);
    read(j, "devices", v.devices);
}

void to_json(json& j, const Profile& v) {
    j = json{{"name", v.name},       {"description", v.description}, {"config", v.config},
             {"devices", v.devices}, {"used_by", v.used_by}};
}
void from_json(const json& j, Profile& v) {
    require_object(j, "profile");
    read(j, "name", v.name);
    read(j, "description", v.description);
    read(j, "config", v.config);
    read(j, "devices", v.devices);
    read(j, "used_by", v.used_by);
}

void to_json(json& j, const ProfilesPost& v) {
    j = json{{"name", v.name}, {"config", v.config}, {"description", v.description}, {"devices", v.devices}};
}
void from_json(const json& j, ProfilesPost& v) {
    require_object(j, "profile");
    read(j, "name", v.name);
    read(j, "config", v.config);
    read(j, "description", v.description);
    read(j, "devices", v.devices);
}

void to_json(json& j, const ProfilePost& v) { j = json{{"name", v.name}}; }
void from_json(const json& j, ProfilePost& v) {
    require_object(j, "profile");
    read(j, "name", v.name);
}

}  // namespace lxm::apitypes
