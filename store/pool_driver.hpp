// Storage pool drivers: where images are unpacked and where each instance's
// root filesystem, snapshots and copies live. A small strategy interface with
// one implementation per backend:
//
//   overlay (default): each image unpacked once (unshifted, owned by 0), each
//            instance an overlay upper/work pair over it; the runtime idmaps the
//            image as the lower layer. Create/delete O(1) in rootfs size.
//   btrfs:   image = subvolume, instance = writable snapshot of it, snapshots
//            are btrfs snapshots. The runtime idmaps the subvolume directly.
//   dir:     full copies (reflink where the filesystem offers it).
//
// Layout under the pool path: images/<fingerprint>/{rootfs/,.complete},
// containers/<name>/... (the instance dir, driver-specific content) with its
// snapshots inside it at containers/<name>/snapshots/<snap>/..., so renaming or
// deleting an instance is one rename; tmp/ for builds in progress.
// Every multi-step operation is all-or-nothing: a failure (or a kill) leaves the
// source untouched and no half-made target (build under tmp/, rename last;
// open_pool empties tmp/, which removes whatever a killed daemon left there).
// Instance and snapshot names: non-empty, no '/', not starting with '.'.
// Methods may be called from several threads for different instances; the
// caller serialises operations on one instance.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::store {

// What the runtime Spec needs to mount an instance's root.
struct InstanceRootfs {
    std::string rootfs{};     // lower (overlay) or the whole tree (btrfs, dir); unshifted
    std::string upper_dir{};  // overlay only: the instance's own changes, owned by its host ids
    std::string work_dir{};   // overlay only
};

struct PoolUsage {
    uint64_t used_bytes = 0;
    std::optional<uint64_t> total_bytes{};
};

class PoolDriver {
public:
    virtual ~PoolDriver() = default;
    virtual std::string driver_name() const = 0;  // "overlay", "btrfs", "dir"
    virtual const std::string& path() const = 0;

    // Images. unpack fills the given empty directory with the image's rootfs.
    virtual bool has_image(const std::string& fingerprint) const = 0;
    virtual base::Result<void> ensure_image(const std::string& fingerprint,
                                            const std::function<base::Result<void>(const std::string& dir)>& unpack) = 0;
    virtual base::Result<void> delete_image(const std::string& fingerprint) = 0;
    virtual base::Result<std::string> image_rootfs(const std::string& fingerprint) const = 0;

    // Instances. uid/gid: the instance's host root ids (owner of its own layer).
    virtual base::Result<InstanceRootfs> create_instance(const std::string& name, const std::string& image_fp,
                                                         uid_t uid, gid_t gid) = 0;
    // An instance with an empty root (source type "none").
    virtual base::Result<InstanceRootfs> create_empty_instance(const std::string& name, uid_t uid, gid_t gid) = 0;
    virtual base::Result<InstanceRootfs> instance_rootfs(const std::string& name) const = 0;
    // The tree of a snapshot (for publish and export): rootfs (+ upper_dir for overlay,
    // work_dir empty: mount it read-only).
    virtual base::Result<InstanceRootfs> snapshot_rootfs(const std::string& name, const std::string& snapshot) const = 0;
    virtual bool has_instance(const std::string& name) const = 0;
    virtual base::Result<void> delete_instance(const std::string& name) = 0;
    virtual base::Result<void> rename_instance(const std::string& from, const std::string& to) = 0;
    // Copy an instance (or one of its snapshots) into a new instance (without its
    // snapshots); the copy is owned by (uid, gid): the overlay driver shifts the
    // owners of the copied upper from the source's recorded ids.
    virtual base::Result<InstanceRootfs> copy_instance(const std::string& from, const std::optional<std::string>& snapshot,
                                                       const std::string& to, uid_t uid, gid_t gid) = 0;

    // Snapshots (the caller freezes a running instance around create_snapshot and
    // stops it around restore_snapshot).
    virtual base::Result<void> create_snapshot(const std::string& name, const std::string& snapshot) = 0;
    virtual base::Result<void> restore_snapshot(const std::string& name, const std::string& snapshot) = 0;
    virtual base::Result<void> delete_snapshot(const std::string& name, const std::string& snapshot) = 0;
    virtual base::Result<void> rename_snapshot(const std::string& name, const std::string& from, const std::string& to) = 0;
    virtual std::vector<std::string> list_snapshots(const std::string& name) const = 0;
    // Copy snapshot `snap` of `from` as snapshot `to_snap` of the existing instance `to`,
    // owned by (uid, gid) (copies with their snapshots). All-or-nothing like create_snapshot.
    virtual base::Result<void> copy_snapshot(const std::string& from, const std::string& snap, const std::string& to,
                                             const std::string& to_snap, uid_t uid, gid_t gid) = 0;

    // Images unpacked in the pool (fingerprints with their .complete marker).
    virtual std::vector<std::string> list_images() const;

    // Root disk quotas (the root disk device's "size"). check_quota: can this pool
    // limit an instance at all (ENOTSUP with the reason when not: a config-time
    // error, never a silent ignore). set_instance_quota: bytes, or nullopt to lift
    // the limit. Default: project quotas of the filesystem under path() (ext4/xfs
    // mounted with prjquota); btrfs: qgroup limits on the instance's subvolume.
    virtual base::Result<void> check_quota() const;
    virtual base::Result<void> set_instance_quota(const std::string& name, std::optional<uint64_t> bytes);

    // A directory beside the instance's root for small files of its own (backup.yaml, templates state).
    // The driver's own entries there: rootfs/ or upper/ work/ lower/, image, ids, snapshots/.
    virtual std::string instance_dir(const std::string& name) const = 0;
    virtual base::Result<PoolUsage> usage() const = 0;
    virtual base::Result<uint64_t> instance_usage(const std::string& name) const = 0;
};

// Open (creating the layout if needed) a pool of the given driver ("overlay",
// "btrfs", "dir") at path; empties <path>/tmp. ENOTSUP for an unknown driver or
// one the filesystem at path cannot host (btrfs on a non-btrfs path).
base::Result<std::unique_ptr<PoolDriver>> open_pool(const std::string& driver, const std::string& path,
                                                    const std::map<std::string, std::string>& config = {});

}  // namespace lxm::store
