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
#include <ctime>
#include <vector>

#include "lxm/base/file.hpp"

namespace lxm::core {

using base::Result;

namespace {

struct ReadDeleter {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
struct EntryDeleter {
    void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
struct ResolverDeleter {
    void operator()(struct archive_entry_linkresolver* r) const { archive_entry_linkresolver_free(r); }
};

base::Unexpected failure(struct archive* a, const std::string& what) {
    const char* msg = archive_error_string(a);
    int err = archive_errno(a);
    std::string ctx = what + ": " + (msg ? msg : "unknown libarchive error");
    if (err > 0) return base::errno_error(ctx, err);
    return base::make_error(std::errc::io_error, ctx);
}

}  // namespace

Result<store::Compression> parse_compression(const std::string& name) {
    if (name.empty() || name == "gzip") return store::Compression::gzip;
    if (name == "zstd") return store::Compression::zstd;
    if (name == "xz") return store::Compression::xz;
    if (name == "none") return store::Compression::none;
    return base::make_error(std::errc::invalid_argument,
                            "unsupported compression \"" + name.substr(0, 32) + "\" (gzip, zstd, xz, none)");
}

Result<TarStream> TarStream::open_fd(int fd, store::Compression c) {
    TarStream t;
    t.a_ = archive_write_new();
    if (!t.a_) return base::make_error(std::errc::not_enough_memory, "archive_write_new");
    archive_write_set_format_pax_restricted(t.a_);
    int r = ARCHIVE_OK;
    switch (c) {
    case store::Compression::none: break;
    case store::Compression::gzip: r = archive_write_add_filter_gzip(t.a_); break;
    case store::Compression::zstd: r = archive_write_add_filter_zstd(t.a_); break;
    case store::Compression::xz: r = archive_write_add_filter_xz(t.a_); break;
    }
    if (r != ARCHIVE_OK) return failure(t.a_, "compression filter");
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
    int r = ARCHIVE_OK;
    switch (c) {
    case store::Compression::none: break;
    case store::Compression::gzip: r = archive_write_add_filter_gzip(t.a_); break;
    case store::Compression::zstd: r = archive_write_add_filter_zstd(t.a_); break;
    case store::Compression::xz: r = archive_write_add_filter_xz(t.a_); break;
    }
    if (r != ARCHIVE_OK) return failure(t.a_, "compression filter");
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
    std::unique_ptr<struct archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_mtime(e.get(), ::time(nullptr), 0);
    if (archive_write_header(a_, e.get()) != ARCHIVE_OK) return failure(a_, "write " + name);
    if (archive_write_data(a_, data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
        return failure(a_, "write " + name);
    bytes_ += data.size();
    return {};
}

Result<void> TarStream::add_dir(const std::string& name, mode_t mode) {
    std::unique_ptr<struct archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFDIR);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_mtime(e.get(), ::time(nullptr), 0);
    if (archive_write_header(a_, e.get()) != ARCHIVE_OK) return failure(a_, "write " + name);
    return {};
}

Result<void> TarStream::add_tree(const std::string& dir, const std::string& prefix, uint32_t shift_base,
                                 uint32_t shift_size) {
    std::unique_ptr<struct archive, ReadDeleter> disk(archive_read_disk_new());
    archive_read_disk_set_symlink_physical(disk.get());
    archive_read_disk_set_behavior(disk.get(), ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS |
                                                   ARCHIVE_READDISK_NO_SPARSE);
    std::string base = dir;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    // "/." makes the walk enter the directory even when dir is a symlink (/proc/self/fd/N of a mount).
    if (!base.ends_with("/.")) base += "/.";
    if (archive_read_disk_open(disk.get(), base.c_str()) != ARCHIVE_OK) return failure(disk.get(), "open " + base);
    std::unique_ptr<struct archive_entry_linkresolver, ResolverDeleter> resolver(archive_entry_linkresolver_new());
    archive_entry_linkresolver_set_strategy(resolver.get(), archive_format(a_));
    auto shift = [&](la_int64_t id) -> la_int64_t {
        return shift_size && id >= shift_base && id - shift_base < shift_size ? id - shift_base : id;
    };
    std::vector<char> buf(256 * 1024);
    for (;;) {
        std::unique_ptr<struct archive_entry, EntryDeleter> owned(archive_entry_new());
        int r = archive_read_next_header2(disk.get(), owned.get());
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return failure(disk.get(), "walk " + base);
        archive_read_disk_descend(disk.get());
        std::string path = archive_entry_pathname(owned.get());
        if (path.compare(0, base.size(), base) != 0)
            return base::make_error(std::errc::invalid_argument, "unexpected path " + path + " outside " + base);
        std::string rel = path.substr(base.size());
        while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
        if (rel == ".") rel.clear();
        if (rel.starts_with("./")) rel.erase(0, 2);
        std::string name = rel.empty() ? prefix : prefix + "/" + rel;
        archive_entry_set_pathname(owned.get(), name.c_str());
        archive_entry_set_uname(owned.get(), nullptr);
        archive_entry_set_gname(owned.get(), nullptr);
        archive_entry_set_uid(owned.get(), shift(archive_entry_uid(owned.get())));
        archive_entry_set_gid(owned.get(), shift(archive_entry_gid(owned.get())));
        if (archive_entry_filetype(owned.get()) == AE_IFSOCK) continue;  // tar cannot hold sockets

        struct archive_entry* e = owned.get();
        struct archive_entry* spare = nullptr;
        archive_entry_linkify(resolver.get(), &e, &spare);
        if (!e) continue;
        int w = archive_write_header(a_, e);
        if (spare) archive_entry_free(spare);
        if (w == ARCHIVE_FAILED) continue;
        if (w < ARCHIVE_WARN) return failure(a_, "write " + name);
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0 && !archive_entry_hardlink(e)) {
            for (;;) {
                la_ssize_t n = archive_read_data(disk.get(), buf.data(), buf.size());
                if (n < 0) return failure(disk.get(), "read " + name);
                if (n == 0) break;
                if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) != n) return failure(a_, "write " + name);
                bytes_ += static_cast<uint64_t>(n);
            }
        }
    }
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
