// Images: lxmd's image catalogue over the real image store.
//
//   rows + aliases      store/images.hpp (the database)
//   image files         store::ImageStore at $LXM_DIR/images (LXD's layout and
//                       fingerprints: sha256 of the unified tarball, or of the
//                       metadata tarball followed by the rootfs file)
//   unpacked rootfs     the storage pool (PoolDriver::ensure_image, filled by
//                       ImageStore::unpack_rootfs); instances are made from it
//
// Every image that enters the store is unpacked into the pool at once: that is
// the complete check of a hostile or truncated tarball (nothing stays when it
// fails) and makes the first launch as fast as every other.
//
// Built-in images come from the recipes templates/recipes/<name>.yaml (plus an
// optional sibling directory <name>/ with templates.yaml, LXD's "templates:" map
// of metadata.yaml, and the .tpl files it names). A recipe image is the rootfs
// scripts/build-rootfs.sh caches, packed by ImageStore::import_rootfs_dir with
// metadata (os, release, architecture, description, stop_signal, templates).
// The packed tarball is cached too, beside the rootfs:
//   ${LXM_IMAGE_CACHE:-/var/cache/lxm/images}/<name>-<key>.lxd-image.tar.gz
// keyed by the recipe text, the build script and the template files, so a new
// state dir imports it by a hard link and only a new machine builds. Its sha256
// (the image fingerprint) is remembered in a sidecar <tarball>.sha256
// (store::sha256_file_cached): a restart that finds the image in the store reads
// neither the tarball nor libcrypto's hash again.
// At startup a recipe whose tarball is cached is imported (row + alias, real
// fingerprint). One that is not is registered as a placeholder row (size 0,
// property lxm.recipe, fingerprint = the recipe key hash) so that its alias
// resolves for `lxc launch`; its first use builds it inside the create
// operation (progress in the operation metadata) and the alias moves to the
// real image.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"
#include "lxm/core/daemon_state.hpp"
#include "store/image_store.hpp"
#include "store/images.hpp"

namespace lxm::core {

using Progress = std::function<void(const nlohmann::json& metadata_patch)>;

class Instances;

struct Recipe {
    std::string path;  // the .yaml file
    std::map<std::string, std::string> keys;  // top-level "key: value" lines
    std::string get(const std::string& k) const {
        auto it = keys.find(k);
        return it == keys.end() ? std::string() : it->second;
    }
};

// Parse the flat "key: value" recipe format (comments with '#').
Recipe parse_recipe(const std::string& path, const std::string& text);

// The property that marks a placeholder row of a recipe image not built yet.
inline constexpr const char* kRecipeProperty = "lxm.recipe";

// What POST /1.0/images carries besides the files.
struct ImageOptions {
    std::string filename;
    bool is_public = false;
    std::map<std::string, std::string> properties;  // added to (and override) the metadata's
    std::vector<store::ImageAlias> aliases;         // fingerprint filled in by the import
    std::optional<int64_t> expires_at;              // unix ns
};

// An upload: files in the image store's directory (moved in by the import).
struct ImageUpload {
    std::string metadata_or_unified;
    std::optional<std::string> rootfs;
    std::string expected_fingerprint;  // X-LXD-fingerprint, "" for none
};

// Publish source: an instance (stopped) or one of its snapshots.
struct PublishSource {
    std::string instance;
    std::string snapshot;  // "" for the instance itself
};

class Images {
public:
    // Opens the image store at <state root>/images (errors are kept and returned by every call).
    explicit Images(DaemonState& state);

    store::ImageStore* image_store() { return store_ ? &*store_ : nullptr; }
    std::string store_dir() const;

    // Rows and aliases for every recipe found (see above).
    base::Result<void> register_builtin();
    // By alias (exact) or fingerprint (unique prefix); http 404 when unknown.
    base::Result<store::ImageRecord> resolve(const std::string& alias, const std::string& fingerprint);
    // Make sure the image's rootfs is in the pool (nullptr: the default pool); a
    // placeholder recipe image is built first and `image` becomes the real record.
    base::Result<void> ensure_in_pool(store::ImageRecord& image, const Progress& progress,
                                      store::PoolDriver* pool = nullptr);

    // Import uploaded files: store, pool unpack (the validity check), row, aliases.
    // Bad content is http 400 (nothing kept), a stored fingerprint 409.
    base::Result<store::ImageRecord> import(const ImageUpload& up, const ImageOptions& opts);
    // Build a recipe (its text and the files of its templates directory, name -> content)
    // and import it; the alias of the recipe moves to the new image.
    base::Result<store::ImageRecord> build_recipe(const std::string& recipe_text,
                                                  const std::map<std::string, std::string>& template_dir,
                                                  const ImageOptions& opts, const Progress& progress);
    // An image from a stopped instance or a snapshot (owners shifted back to the
    // container's view, templates of the instance's image carried over).
    base::Result<store::ImageRecord> publish(Instances& instances, const PublishSource& src, const ImageOptions& opts,
                                             const Progress& progress);
    // Row, aliases, files; the pools' copies when no instance uses the image.
    base::Result<void> remove(const std::string& fingerprint);

    // Aliases; http 404/409/400 for user mistakes.
    base::Result<void> create_alias(const store::ImageAlias& alias);

private:
    base::Result<store::ImageStore*> st();
    // Row + aliases for a stored image. An alias that names a recipe placeholder moves
    // (the placeholder goes); one that names another image is 409 unless move_aliases.
    base::Result<store::ImageRecord> register_stored(const store::StoredImage& img, const ImageOptions& opts,
                                                     bool move_aliases);
    // The cached tarball of a recipe (building rootfs and tarball when missing).
    base::Result<std::string> recipe_tarball(const std::string& recipe_path, const Progress& progress);
    base::Result<store::StoredImage> import_file_linked(const std::string& tarball);
    // Caller holds lock_for(fp).
    base::Result<void> unpack_into_pool(const std::string& fp, store::PoolDriver& pool);
    std::shared_ptr<std::mutex> lock_for(const std::string& key);

    DaemonState& state_;
    std::optional<store::ImageStore> store_;
    base::Error store_error_;
    std::mutex mu_;                                              // guards locks_
    std::map<std::string, std::shared_ptr<std::mutex>> locks_;  // per fingerprint / recipe
};

}  // namespace lxm::core
