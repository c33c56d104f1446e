#include "lxm/core/backup_tar.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <vector>

#include "lxm/base/file.hpp"
#include "store/archive_write.hpp"

namespace lxm::core {

using base::Result;

namespace {

base::Unexpected failure(struct archive* a, const std::string& what) { return store::archive_failure(a, what); }

}  // namespace

Result<store::Compression> parse_compression(const std::string& name) {
    if (name.empty() || name == "gzip") return store::Compression::gzip;
    if (name == "zstd") return store::Compression::zstd;
    if (name == "xz") return store::Compression::xz;
    if (name == "none") return store::Compression::none;
    return base::make_error(std::errc::invalid_argument,
                            "unsupported compression \"" + name.substr(0, 32) + "\" (gzip, zstd, xz, none)");
}

namespace {

// The compression filter, multi-threaded where the library can (zstd and xz: libarchive's
// "threads" option, libzstd's/liblzma's worker threads beside the thread walking the tree).
base::Result<void> add_filter(struct archive* a, store::Compression c) {
    int r = ARCHIVE_OK;
    switch (c) {
    case store::Compression::none: break;
    case store::Compression::gzip: r = archive_write_add_filter_gzip(a); break;
    case store::Compression::zstd: r = archive_write_add_filter_zstd(a); break;
    case store::Compression::xz: r = archive_write_add_filter_xz(a); break;
    }
    if (r != ARCHIVE_OK) return failure(a, "compression filter");
    if (c == store::Compression::zstd || c == store::Compression::xz) {
        unsigned n = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
        // LXM_COMPRESS_THREADS (lxmd's environment): another number of workers (1: none; benchmarks).
        if (const char* env = std::getenv("LXM_COMPRESS_THREADS"); env && std::atoi(env) > 0)
            n = static_cast<unsigned>(std::min(std::atoi(env), 64));
        if (n <= 1) return {};
        // Not fatal: a library without threads compresses in this thread.
        (void)archive_write_set_filter_option(a, nullptr, "threads", std::to_string(n).c_str());
    }
    return {};
}

}  // namespace

Result<TarStream> TarStream::open_fd(int fd, store::Compression c) {
    TarStream t;
    t.a_ = archive_write_new();
    if (!t.a_) return base::make_error(std::errc::not_enough_memory, "archive_write_new");
    archive_write_set_format_pax_restricted(t.a_);
    LXM_TRY_VOID(add_filter(t.a_, c));
    // Large writes into the pipe (libarchive's default block is 10 KiB).
    archive_write_set_bytes_per_block(t.a_, 256 * 1024);
    archive_write_set_bytes_in_last_block(t.a_, 1);
    if (archive_write_open_fd(t.a_, fd) != ARCHIVE_OK) return failure(t.a_, "open the output stream");
    return t;
}

struct TarStream::SinkState {
    Sink sink;
    std::string error;
};

namespace {
la_ssize_t sink_write(struct archive* a, void* data, const void* buf, size_t len) {
    auto* st = static_cast<TarStream::SinkState*>(data);
    if (auto r = st->sink(static_cast<const char*>(buf), len); !r) {
        st->error = r.error().message();
        archive_set_error(a, EIO, "%s", st->error.c_str());
        return -1;
    }
    return static_cast<la_ssize_t>(len);
}
}  // namespace

Result<TarStream> TarStream::open_sink(Sink sink, store::Compression c) {
    TarStream t;
    t.sink_ = std::make_unique<SinkState>();
    t.sink_->sink = std::move(sink);
    t.a_ = archive_write_new();
    if (!t.a_) return base::make_error(std::errc::not_enough_memory, "archive_write_new");
    archive_write_set_format_pax_restricted(t.a_);
    LXM_TRY_VOID(add_filter(t.a_, c));
    archive_write_set_bytes_per_block(t.a_, 256 * 1024);
    archive_write_set_bytes_in_last_block(t.a_, 1);
    if (archive_write_open2(t.a_, t.sink_.get(), nullptr, sink_write, nullptr, nullptr) != ARCHIVE_OK)
        return failure(t.a_, "open the output stream");
    return t;
}

TarStream::TarStream(TarStream&& o) noexcept : a_(o.a_), sink_(std::move(o.sink_)), bytes_(o.bytes_) { o.a_ = nullptr; }

TarStream::~TarStream() {
    if (a_) archive_write_free(a_);
}

Result<void> TarStream::add_file(const std::string& name, const std::string& data, mode_t mode) {
    LXM_TRY_VOID(store::tar_add_file(a_, name, data, mode));
    bytes_ += data.size();
    return {};
}

Result<void> TarStream::add_dir(const std::string& name, mode_t mode) { return store::tar_add_dir(a_, name, mode); }

Result<void> TarStream::add_tree(const std::string& dir, const std::string& prefix, uint32_t shift_base,
                                 uint32_t shift_size) {
    LXM_TRY(uint64_t n, store::tar_add_tree(a_, dir, prefix, shift_base, shift_size));
    bytes_ += n;
    return {};
}

Result<void> TarStream::add_host_dir(const std::string& dir, const std::string& prefix) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return {};
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != ".." && e->d_type == DT_REG) names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    LXM_TRY_VOID(add_dir(prefix, 0755));
    for (const auto& n : names) {
        LXM_TRY(std::string data, base::read_file(dir + "/" + n, 16 << 20));
        LXM_TRY_VOID(add_file(prefix + "/" + n, data, 0644));
    }
    return {};
}

Result<void> TarStream::close() {
    if (archive_write_close(a_) != ARCHIVE_OK) return failure(a_, "finish the archive");
    return {};
}

Result<VolumeView> open_volume_view(const store::InstanceRootfs& vol) {
    VolumeView v;
    if (vol.upper_dir.empty()) {
        v.path = vol.rootfs;
        return v;
    }
    if (vol.rootfs.empty() || !base::path_exists(vol.rootfs)) {  // over no image: the upper is the whole tree
        v.path = vol.upper_dir;
        return v;
    }
    int fs = static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC));
    if (fs < 0) return base::errno_error("fsopen overlay");
    base::UniqueFd fsfd(fs);
    // fsconfig strings are at most 256 bytes: name the layers by short /proc/self/fd paths.
    int up = ::open(vol.upper_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (up < 0) return base::errno_error("open " + vol.upper_dir);
    base::UniqueFd upfd(up);
    int lo = ::open(vol.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (lo < 0) return base::errno_error("open " + vol.rootfs);
    base::UniqueFd lofd(lo);
    std::string lowers = "/proc/self/fd/" + std::to_string(up) + ":/proc/self/fd/" + std::to_string(lo);
    if (::syscall(SYS_fsconfig, fsfd.get(), FSCONFIG_SET_STRING, "lowerdir", lowers.c_str(), 0) != 0)
        return base::errno_error("overlay lowerdir " + vol.upper_dir + ":" + vol.rootfs);
    if (::syscall(SYS_fsconfig, fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return base::errno_error("create an overlay of the volume");
    int m = static_cast<int>(::syscall(SYS_fsmount, fsfd.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY));
    if (m < 0) return base::errno_error("fsmount overlay");
    v.mount.reset(m);
    v.path = "/proc/self/fd/" + std::to_string(m);
    return v;
}

}  // namespace lxm::core
