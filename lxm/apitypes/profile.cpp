#include "lxm/apitypes/profile.hpp"

namespace lxm::apitypes {
using detail::field;
using detail::read_fields;
using detail::write_fields;

namespace {
const auto kPut = std::tuple{field("config", &ProfilePut::config), field("description", &ProfilePut::description),
                             field("devices", &ProfilePut::devices)};
const auto kProfile = std::tuple{field("name", &Profile::name), field("description", &Profile::description),
                                 field("config", &Profile::config), field("devices", &Profile::devices),
                                 field("used_by", &Profile::used_by)};
const auto kPost = std::tuple{field("name", &ProfilesPost::name), field("config", &ProfilesPost::config),
                              field("description", &ProfilesPost::description),
                              field("devices", &ProfilesPost::devices)};
const auto kRename = std::tuple{field("name", &ProfilePost::name)};
}  // namespace

void to_json(json& j, const ProfilePut& v) { write_fields(j, v, kPut); }
void from_json(const json& j, ProfilePut& v) { read_fields(j, v, kPut, "profile"); }

void to_json(json& j, const Profile& v) { write_fields(j, v, kProfile); }
void from_json(const json& j, Profile& v) { read_fields(j, v, kProfile, "profile"); }

void to_json(json& j, const ProfilesPost& v) { write_fields(j, v, kPost); }
void from_json(const json& j, ProfilesPost& v) { read_fields(j, v, kPost, "profile"); }

void to_json(json& j, const ProfilePost& v) { write_fields(j, v, kRename); }
void from_json(const json& j, ProfilePost& v) { read_fields(j, v, kRename, "profile"); }

}  // namespace lxm::apitypes
