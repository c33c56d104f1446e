// The image store: LXD-format image files kept as uploaded under one directory
// (<state>/images), named like LXD names them:
//   <fp>          the unified tarball, or the metadata tarball of a split image
//   <fp>.rootfs   the rootfs tarball (or squashfs) of a split image
// The fingerprint is LXD's: sha256 of the unified tarball, or of the metadata
// tarball's bytes followed by the rootfs file's bytes for a split image.
// Files are written under .tmp-* names and renamed last (rootfs before
// metadata: <fp> present means the image is complete); open() removes
// leftovers. The database rows (store/images.hpp) are the caller's business.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "store/archive_pack.hpp"
#include "store/archive_unpack.hpp"
#include "store/image_metadata.hpp"

namespace lxm::store {

enum class ImageLayout { unified, split };

struct StoredImage {
    std::string fingerprint;
    ImageLayout layout = ImageLayout::unified;
    std::string metadata_file;  // <dir>/<fp>
    std::string rootfs_file;    // <dir>/<fp>.rootfs for a split image, else empty
    uint64_t size = 0;          // bytes of the stored file(s)
    ImageMetadata metadata;
};

// Lowercase hex sha256 over the files' bytes in order.
base::Result<std::string> sha256_files(const std::vector<std::string>& files);
// 64 lowercase hex digits.
bool valid_fingerprint(const std::string& fp);

// sha256_files({path}) remembered in a sidecar <path>.sha256 (written atomically, best
// effort), valid while the file keeps its device, inode, size and mtime (ns): a restart
// that finds the same cached tarball does not read it again; a replaced or rewritten
// file is hashed anew. The sidecar holds "lxm-sha256 <fp> <dev> <ino> <size> <mtime_ns>".
//   cached_sha256     the sidecar's answer while it matches the file, else nullopt (no hashing)
//   remember_sha256   writes the sidecar for fp, a hash the caller took of the file as it is now
//   sha256_file_cached  the sidecar's answer, else hashes the file and remembers it; hit says which
std::optional<std::string> cached_sha256(const std::string& path);
void remember_sha256(const std::string& path, const std::string& fp);
base::Result<std::string> sha256_file_cached(const std::string& path, bool* hit = nullptr);

class ImageStore {
public:
    // Creates dir (0700) if needed; removes .tmp-* files and orphaned <fp>.rootfs.
    static base::Result<ImageStore> open(const std::string& dir);

    const std::string& dir() const { return dir_; }

    enum class Take { copy, move };
    // Import uploaded files: a unified tarball (rootfs empty) or a split pair.
    // Checks the fingerprint against expected_fp when given, requires a valid
    // metadata.yaml (and rootfs/ entries in a unified tarball). move renames the
    // files in when they are on the same filesystem. EEXIST when already stored.
    base::Result<StoredImage> import(const std::string& metadata_or_unified, const std::optional<std::string>& rootfs,
                                     Take take = Take::copy, const std::string& expected_fp = {});
    // Build a unified tarball from a directory tree (build_image_from_rootfs) and
    // store it: for recipe images and publish. EEXIST when the same bytes are stored.
    base::Result<StoredImage> import_rootfs_dir(const std::string& rootfs_dir, const ImageMetadata& meta,
                                                const PackOptions& opts = {});

    bool has(const std::string& fp) const;
    base::Result<StoredImage> get(const std::string& fp) const;
    std::vector<std::string> list() const;  // fingerprints, sorted
    // The one stored fingerprint starting with prefix (ENOENT none, EINVAL ambiguous).
    base::Result<std::string> resolve_prefix(const std::string& prefix) const;
    base::Result<void> remove(const std::string& fp);

    // Fill an empty directory with the image's rootfs (the PoolDriver::ensure_image
    // callback): safe extraction, owners/modes/xattrs as in the image.
    base::Result<UnpackReport> unpack_rootfs(const std::string& fp, const std::string& dir,
                                             const UnpackOptions& opts = {}) const;
    // templates/ of the image: file name -> content (for metadata.templates).
    base::Result<std::map<std::string, std::string>> template_files(const std::string& fp) const;

    // Export: the stored files as they are (1 or 2 paths, metadata first), or a
    // unified tarball built from a split image (its fingerprint differs).
    base::Result<std::vector<std::string>> export_files(const std::string& fp) const;
    base::Result<void> export_unified(const std::string& fp, const std::string& out_path,
                                      Compression compression = Compression::gzip) const;

private:
    explicit ImageStore(std::string dir) : dir_(std::move(dir)) {}
    base::Result<StoredImage> describe(const std::string& fp) const;
    std::string dir_;
};

}  // namespace lxm::store
