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
#include "store/archive_write.hpp"

namespace lxm::store {

using base::Result;

namespace {

using Writer = ArchiveWrite;
using Reader = ArchiveRead;
base::Unexpected failure(struct archive* a, const std::string& what) { return archive_failure(a, what); }

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
        return tar_add_file(a_.get(), name, data, mode);
    }
    Result<void> add_dir(const std::string& name, mode_t mode) { return tar_add_dir(a_.get(), name, mode); }

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

    LXM_TRY_VOID(tar_add_tree(out.get(), rootfs_dir, "rootfs", opts.shift_base, opts.shift_size));
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
