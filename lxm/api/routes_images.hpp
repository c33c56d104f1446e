// Shared by the image route files (routes_images*.cpp): the LXD JSON of images and
// aliases, and the registration of each part (called by register_image_routes).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/api/daemon_routes.hpp"
#include "store/images.hpp"

namespace lxm::api {

// Uploads are streamed to a file in the image store directory, up to this size.
inline constexpr size_t kImageUploadLimit = size_t{32} << 30;

nlohmann::json image_json(const store::ImageRecord& r, const std::vector<store::ImageAlias>& aliases);
nlohmann::json alias_json(const store::ImageAlias& a);
// A finished operation (LXD answers uploads and deletes with one): clients read its metadata.
base::Result<Response> finished_operation(Api& api, std::string description, nlohmann::json metadata,
                                          std::vector<std::string> image_urls);

void register_image_post_routes(Api& api, DaemonRoutes& ctx);   // routes_images_post.cpp: POST /1.0/images
void register_image_alias_routes(Api& api, DaemonRoutes& ctx);  // routes_images_aliases.cpp

}  // namespace lxm::api
