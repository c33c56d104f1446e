// Writing tarballs into a stream (a pipe to an HTTP response, a socket) with
// libarchive: pax, numeric owners, xattrs, hard links, symlinks and device
// nodes as they are, never crossing mount points. Used for backup exports
// (LXD's layout: backup/index.yaml, backup/container/..., backup/snapshots/<s>/...)
// and the migration stream.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "lxm/base/error.hpp"
#include "lxm/base/unique_fd.hpp"
#include "store/archive_pack.hpp"
#include "store/pool_driver.hpp"

struct archive;

namespace lxm::core {

// "gzip" / "zstd" / "xz" / "none" (and "" = gzip, LXD's default); EINVAL otherwise.
base::Result<store::Compression> parse_compression(const std::string& name);

class TarStream {
public:
    // Writes to fd (not owned) as the tarball is built; nothing is buffered beyond libarchive's block.
    static base::Result<TarStream> open_fd(int fd, store::Compression c);
    // Hands each block to sink (e.g. a websocket); a sink error fails the write that caused it.
    using Sink = std::function<base::Result<void>(const char* data, size_t len)>;
    static base::Result<TarStream> open_sink(Sink sink, store::Compression c);
    TarStream(TarStream&&) noexcept;
    TarStream& operator=(TarStream&&) = delete;
    ~TarStream();

    base::Result<void> add_file(const std::string& name, const std::string& data, mode_t mode = 0644);
    base::Result<void> add_dir(const std::string& name, mode_t mode = 0755);
    // The tree at dir under prefix ("backup/container/rootfs"). Owners in
    // [shift_base, shift_base + shift_size) are written as owner - shift_base.
    base::Result<void> add_tree(const std::string& dir, const std::string& prefix, uint32_t shift_base = 0,
                                uint32_t shift_size = 0);
    // Files of a host directory (small, lxm's own: templates) under prefix; absent dir: nothing.
    base::Result<void> add_host_dir(const std::string& dir, const std::string& prefix);
    // Ends the archive (trailer, compression footer).
    base::Result<void> close();
    uint64_t bytes_in() const { return bytes_; }
    struct SinkState;

private:
    TarStream() = default;
    struct archive* a_ = nullptr;
    std::unique_ptr<SinkState> sink_;
    uint64_t bytes_ = 0;
};

// A snapshot volume as one directory to read: the tree itself (dir, btrfs) or a
// read-only overlay of its upper over its image (held by the returned mount fd;
// path = /proc/self/fd/N).
struct VolumeView {
    base::UniqueFd mount;
    std::string path;
};
base::Result<VolumeView> open_volume_view(const store::InstanceRootfs& vol);

}  // namespace lxm::core
