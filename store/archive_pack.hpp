// Writing LXD-format image tarballs with libarchive (pax, numeric owners,
// xattrs, hard links, device nodes and symlinks as they are).
#pragma once

#include <map>
#include <string>

#include "lxm/base/error.hpp"
#include "store/image_metadata.hpp"

namespace lxm::store {

enum class Compression { none, gzip, zstd, xz };

struct PackOptions {
    Compression compression = Compression::gzip;
    // Files for templates/ in the image: name -> content.
    std::map<std::string, std::string> template_files;
    // Owners in [shift_base, shift_base + shift_size) are written as owner - shift_base:
    // a tree seen through a container's host id range, back in the container's view.
    uint32_t shift_base = 0;
    uint32_t shift_size = 0;
};

// A unified LXD image tarball at out_path: metadata.yaml, templates/..., and the
// tree rootfs_dir under rootfs/ (not crossing mount points). Written to a temp
// file beside out_path and renamed last.
base::Result<void> build_image_from_rootfs(const std::string& rootfs_dir, const ImageMetadata& meta,
                                           const std::string& out_path, const PackOptions& opts = {});

// A unified tarball from a split image (metadata tarball + rootfs tarball): the
// metadata entries as they are and the rootfs entries under rootfs/.
base::Result<void> unify_split_image(const std::string& metadata_tarball, const std::string& rootfs_tarball,
                                     const std::string& out_path, Compression compression = Compression::gzip);

}  // namespace lxm::store
