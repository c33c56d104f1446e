// Images lxm starts with: the rootfs recipes in templates/recipes/*.yaml,
// registered as images (row + alias, e.g. "busybox", "debian/12") at startup
// without building anything; the first instance made from one builds it (in
// the create operation, with progress) and puts it into the pool.
//
// Stand-in until the image store (issue 4) provides a builder: the image's
// fingerprint is the sha256 of the recipe text followed by the text of
// scripts/build-rootfs.sh, and its rootfs is the directory that script caches
// (/var/cache/lxm/images/<name>-<hash>/rootfs), copied into the pool by
// PoolDriver::ensure_image. When build_image_from_rootfs lands, ensure_in_pool
// is the one place to switch over.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"
#include "lxm/core/daemon_state.hpp"
#include "store/images.hpp"

namespace lxm::core {

using Progress = std::function<void(const nlohmann::json& metadata_patch)>;

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

class Images {
public:
    explicit Images(DaemonState& state);

    // Rows and aliases for every recipe found (idempotent; a changed recipe gets
    // a new fingerprint and the alias moves to it).
    base::Result<void> register_builtin();
    // By alias (exact) or fingerprint (unique prefix); http 404 when unknown.
    base::Result<store::ImageRecord> resolve(const std::string& alias, const std::string& fingerprint);
    // Make sure the image's rootfs is in the pool (nullptr: the default pool), building it when needed.
    base::Result<void> ensure_in_pool(const store::ImageRecord& image, const Progress& progress,
                                      store::PoolDriver* pool = nullptr);

private:
    DaemonState& state_;
    std::mutex mu_;                                    // guards build_locks_
    std::map<std::string, std::shared_ptr<std::mutex>> build_locks_;  // per fingerprint
};

}  // namespace lxm::core
