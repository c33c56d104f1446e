// Images (by fingerprint, global for now) with their properties, source and
// aliases. Deleting an image deletes its aliases.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/config_maps.hpp"
#include "store/sqlite.hpp"

namespace lxm::store {

struct ImageSource {
    std::string server;
    std::string protocol;  // "simplestreams", "lxd"
    std::string certificate;
    std::string alias;

    bool operator==(const ImageSource&) const = default;
};

struct ImageRecord {
    int64_t id = 0;
    std::string fingerprint;  // sha256 hex
    std::string filename;
    int64_t size = 0;
    bool is_public = false;
    bool auto_update = false;
    bool cached = false;  // pulled implicitly for an instance, may be expired
    std::string architecture;
    std::string type = "container";  // container | virtual-machine
    int64_t created_at = 0;          // unix ns, as in the image metadata
    int64_t uploaded_at = 0;
    int64_t last_used_at = 0;
    std::optional<int64_t> expires_at;
    ConfigMap properties;
    std::optional<ImageSource> source;

    bool operator==(const ImageRecord&) const = default;
};

struct ImageAlias {
    std::string name;
    std::string fingerprint;
    std::string description;

    bool operator==(const ImageAlias&) const = default;
};

Result<int64_t> create_image(Transaction& tx, const ImageRecord& rec);
Result<ImageRecord> get_image(Transaction& tx, std::string_view fingerprint);
// Unique match of a fingerprint prefix (as the LXD API allows): invalid_argument when ambiguous.
Result<ImageRecord> find_image(Transaction& tx, std::string_view prefix);
Result<std::vector<std::string>> list_image_fingerprints(Transaction& tx);
Result<std::vector<ImageRecord>> list_images(Transaction& tx);
// Replace everything but id and fingerprint.
Result<void> update_image(Transaction& tx, const ImageRecord& rec);
Result<void> set_image_last_used(Transaction& tx, std::string_view fingerprint, int64_t last_used_at);
Result<void> delete_image(Transaction& tx, std::string_view fingerprint);

Result<void> create_image_alias(Transaction& tx, const ImageAlias& alias);
Result<ImageAlias> get_image_alias(Transaction& tx, std::string_view name);
Result<std::vector<ImageAlias>> list_image_aliases(Transaction& tx);
// Point at another image and/or change the description.
Result<void> update_image_alias(Transaction& tx, const ImageAlias& alias);
Result<void> rename_image_alias(Transaction& tx, std::string_view name, std::string_view new_name);
Result<void> delete_image_alias(Transaction& tx, std::string_view name);

}  // namespace lxm::store
