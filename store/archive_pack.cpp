#include "store/archive_pack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <memory>
#include <utility>
#include <vector>

#include "lxm/base/unique_fd.hpp"

namespace lxm::store {

using base::Result;

namespace {

struct WriteDeleter {
    void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ReadDeleter {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
struct EntryDeleter {
    void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
struct ResolverDeleter {
    void operator()(struct archive_entry_linkresolver* r) const { archive_entry_linkresolver_free(r); }
};
using Writer = std::unique_ptr<struct archive, WriteDeleter>;
using Reader = std::unique_ptr<struct archive, ReadDeleter>;
using Entry = std::unique_ptr<struct archive_entry, EntryDeleter>;

base::Unexpected failure(struct archive* a, const std::string& what) {
    const char* msg = archive_error_string(a);
    int err = archive_errno(a);
    std::string ctx = what + ": " + (msg ? msg : "unknown libarchive error");
    if (err > 0) return base::errno_error(ctx, err);
    return base::make_error(std::errc::io_error, ctx);
}

// A tarball written to a temp file beside the target and renamed over it on commit().
class TarOut {
public:
    static Result<TarOut> create(const std::string& out_path, Compression c) {
        TarOut t;
        t.path_ = out_path;
        std::string tmpl = out_path + ".tmp-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        int fd = ::mkostemp(buf.data(), O_CLOEXEC);
        if (fd < 0) return base::errno_error("create " + tmpl);
        t.fd_.reset(fd);
        t.tmp_ = buf.data();
        t.a_.reset(archive_write_new());
        archive_write_set_format_pax_restricted(t.a_.get());
        int r = ARCHIVE_OK;
        switch (c) {
        case Compression::none: break;
        case Compression::gzip: r = archive_write_add_filter_gzip(t.a_.get()); break;
        case Compression::zstd: r = archive_write_add_filter_zstd(t.a_.get()); break;
        case Compression::xz: r = archive_write_add_filter_xz(t.a_.get()); break;
        }
        if (r != ARCHIVE_OK) return failure(t.a_.get(), "compression filter");
        archive_write_set_bytes_in_last_block(t.a_.get(), 1);
        if (archive_write_open_fd(t.a_.get(), t.fd_.get()) != ARCHIVE_OK) return failure(t.a_.get(), "open " + t.tmp_);
        return t;
    }
    TarOut() = default;
    TarOut(TarOut&& o) noexcept
        : path_(std::move(o.path_)), tmp_(std::exchange(o.tmp_, {})), fd_(std::move(o.fd_)), a_(std::move(o.a_)) {}
    TarOut& operator=(TarOut&&) = delete;
    ~TarOut() {
        a_.reset();
        if (!tmp_.empty()) ::unlink(tmp_.c_str());
    }

    struct archive* get() { return a_.get(); }

    Result<void> add_file(const std::string& name, const std::string& data, mode_t mode) {
        Entry e(archive_entry_new());
        archive_entry_set_pathname(e.get(), name.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), mode);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
        archive_entry_set_mtime(e.get(), ::time(nullptr), 0);
        if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) return failure(a_.get(), "write " + name);
        if (archive_write_data(a_.get(), data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
            return failure(a_.get(), "write " + name);
        return {};
    }
    Result<void> add_dir(const std::string& name, mode_t mode) {
        Entry e(archive_entry_new());
        archive_entry_set_pathname(e.get(), name.c_str());
        archive_entry_set_filetype(e.get(), AE_IFDIR);
        archive_entry_set_perm(e.get(), mode);
        archive_entry_set_mtime(e.get(), ::time(nullptr), 0);
        if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) return failure(a_.get(), "write " + name);
        return {};
    }

    Result<void> commit() {
        if (archive_write_close(a_.get()) != ARCHIVE_OK) return failure(a_.get(), "finish " + tmp_);
        if (::fsync(fd_.get()) != 0) return base::errno_error("fsync " + tmp_);
        if (::fchmod(fd_.get(), 0600) != 0) return base::errno_error("chmod " + tmp_);
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) return base::errno_error("rename " + tmp_ + " to " + path_);
        tmp_.clear();
        return {};
    }

private:
    std::string path_, tmp_;
    base::UniqueFd fd_;
    Writer a_;
};

// Copy the current entry's data from reader to writer.
Result<void> copy_data(struct archive* in, struct archive* out, const std::string& name) {
    char buf[64 * 1024];
    for (;;) {
        la_ssize_t n = archive_read_data(in, buf, sizeof buf);
        if (n < 0) return failure(in, "read " + name);
        if (n == 0) return {};
        if (archive_write_data(out, buf, static_cast<size_t>(n)) != n) return failure(out, "write " + name);
    }
}

Result<void> write_metadata(TarOut& out, const ImageMetadata& meta, const PackOptions& opts) {
    LXM_TRY_VOID(out.add_file("metadata.yaml", render_image_metadata(meta), 0644));
    if (!opts.template_files.empty()) {
        LXM_TRY_VOID(out.add_dir("templates", 0755));
        for (const auto& [name, data] : opts.template_files) {
            if (name.empty() || name.find('/') != std::string::npos || name.front() == '.')
                return base::make_error(std::errc::invalid_argument, "bad template file name " + name);
            LXM_TRY_VOID(out.add_file("templates/" + name, data, 0644));
        }
    }
    return {};
}

// "./a/b" -> "a/b", "." or "./" -> "".
std::string strip_dot(std::string s) {
    while (s.size() >= 2 && s[0] == '.' && s[1] == '/') s.erase(0, 2);
    if (s == ".") s.clear();
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

}  // namespace

Result<void> build_image_from_rootfs(const std::string& rootfs_dir, const ImageMetadata& meta,
                                     const std::string& out_path, const PackOptions& opts) {
    struct stat st;
    if (::stat(rootfs_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return base::make_error(std::errc::not_a_directory, "rootfs " + rootfs_dir + " is not a directory");
    LXM_TRY(TarOut out, TarOut::create(out_path, opts.compression));
    LXM_TRY_VOID(write_metadata(out, meta, opts));

    Reader disk(archive_read_disk_new());
    archive_read_disk_set_symlink_physical(disk.get());
    archive_read_disk_set_behavior(disk.get(), ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS |
                                                   ARCHIVE_READDISK_NO_SPARSE);
    if (archive_read_disk_open(disk.get(), rootfs_dir.c_str()) != ARCHIVE_OK) return failure(disk.get(), "open " + rootfs_dir);
    std::unique_ptr<struct archive_entry_linkresolver, ResolverDeleter> resolver(archive_entry_linkresolver_new());
    archive_entry_linkresolver_set_strategy(resolver.get(), archive_format(out.get()));

    std::string base = rootfs_dir;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    for (;;) {
        Entry owned(archive_entry_new());
        int r = archive_read_next_header2(disk.get(), owned.get());
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return failure(disk.get(), "walk " + rootfs_dir);
        archive_read_disk_descend(disk.get());
        std::string path = archive_entry_pathname(owned.get());
        if (path.compare(0, base.size(), base) != 0)
            return base::make_error(std::errc::invalid_argument, "unexpected path " + path + " outside " + base);
        std::string rel = path.substr(base.size());
        while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
        std::string name = rel.empty() ? "rootfs" : "rootfs/" + rel;
        archive_entry_set_pathname(owned.get(), name.c_str());
        // Numeric owners only (LXD unpacks with --numeric-owner).
        archive_entry_set_uname(owned.get(), nullptr);
        archive_entry_set_gname(owned.get(), nullptr);
        if (opts.shift_size) {
            auto shift = [&](la_int64_t id) {
                return id >= opts.shift_base && id - opts.shift_base < opts.shift_size ? id - opts.shift_base : id;
            };
            archive_entry_set_uid(owned.get(), shift(archive_entry_uid(owned.get())));
            archive_entry_set_gid(owned.get(), shift(archive_entry_gid(owned.get())));
        }
        if (archive_entry_filetype(owned.get()) == AE_IFSOCK) continue;  // tar cannot hold sockets

        struct archive_entry* e = owned.get();
        struct archive_entry* spare = nullptr;
        archive_entry_linkify(resolver.get(), &e, &spare);
        if (!e) continue;
        // For tar the resolver hands back the same entry (turned into a hard link
        // for a second name of an inode); it never defers entries.
        int w = archive_write_header(out.get(), e);
        if (w == ARCHIVE_FAILED) continue;  // e.g. a file type the format cannot hold
        if (w < ARCHIVE_WARN) return failure(out.get(), "write " + name);
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0)
            LXM_TRY_VOID(copy_data(disk.get(), out.get(), name));
        if (spare) archive_entry_free(spare);
    }
    return out.commit();
}

Result<void> unify_split_image(const std::string& metadata_tarball, const std::string& rootfs_tarball,
                               const std::string& out_path, Compression compression) {
    LXM_TRY(TarOut out, TarOut::create(out_path, compression));
    for (int part = 0; part < 2; ++part) {
        const std::string& src = part == 0 ? metadata_tarball : rootfs_tarball;
        Reader in(archive_read_new());
        archive_read_support_filter_all(in.get());
        archive_read_support_format_tar(in.get());
        if (archive_read_open_filename(in.get(), src.c_str(), 64 * 1024) != ARCHIVE_OK)
            return failure(in.get(), "open " + src);
        bool root_written = false;
        for (;;) {
            struct archive_entry* e;
            int r = archive_read_next_header(in.get(), &e);
            if (r == ARCHIVE_EOF) break;
            if (r < ARCHIVE_WARN) return failure(in.get(), "read " + src);
            std::string name = strip_dot(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
            if (part == 1) {
                if (name.empty()) root_written = true;
                name = name.empty() ? "rootfs" : "rootfs/" + name;
                if (const char* hl = archive_entry_hardlink(e))
                    archive_entry_set_hardlink(e, ("rootfs/" + strip_dot(hl)).c_str());
            } else if (name.empty() || name.compare(0, 7, "rootfs/") == 0 || name == "rootfs") {
                continue;  // a metadata tarball holds no rootfs
            }
            archive_entry_set_pathname(e, name.c_str());
            if (part == 1 && !root_written && name != "rootfs") {
                LXM_TRY_VOID(out.add_dir("rootfs", 0755));
                root_written = true;
            }
            int w = archive_write_header(out.get(), e);
            if (w == ARCHIVE_FAILED) continue;
            if (w < ARCHIVE_WARN) return failure(out.get(), "write " + name);
            if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0 && !archive_entry_hardlink(e))
                LXM_TRY_VOID(copy_data(in.get(), out.get(), name));
        }
    }
    return out.commit();
}

}  // namespace lxm::store
