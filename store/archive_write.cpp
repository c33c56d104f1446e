#include "store/archive_write.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <ctime>
#include <vector>

namespace lxm::store {

using base::Result;

void ArchiveReadDeleter::operator()(struct archive* a) const { archive_read_free(a); }
void ArchiveWriteDeleter::operator()(struct archive* a) const { archive_write_free(a); }
void ArchiveEntryDeleter::operator()(struct archive_entry* e) const { archive_entry_free(e); }

base::Unexpected archive_failure(struct archive* a, const std::string& what) {
    const char* msg = archive_error_string(a);
    int err = archive_errno(a);
    std::string ctx = what + ": " + (msg ? msg : "unknown libarchive error");
    if (err > 0) return base::errno_error(ctx, err);
    return base::make_error(std::errc::io_error, ctx);
}

namespace {
ArchiveEntry new_entry(const std::string& name, unsigned type, mode_t mode) {
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_mtime(e.get(), ::time(nullptr), 0);
    return e;
}
struct ResolverDeleter {
    void operator()(struct archive_entry_linkresolver* r) const { archive_entry_linkresolver_free(r); }
};
}  // namespace

Result<void> tar_add_file(struct archive* out, const std::string& name, const std::string& data, mode_t mode) {
    auto e = new_entry(name, AE_IFREG, mode);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    if (archive_write_header(out, e.get()) != ARCHIVE_OK) return archive_failure(out, "write " + name);
    if (archive_write_data(out, data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
        return archive_failure(out, "write " + name);
    return {};
}

Result<void> tar_add_dir(struct archive* out, const std::string& name, mode_t mode) {
    auto e = new_entry(name, AE_IFDIR, mode);
    if (archive_write_header(out, e.get()) != ARCHIVE_OK) return archive_failure(out, "write " + name);
    return {};
}

Result<uint64_t> tar_add_tree(struct archive* out, const std::string& dir, const std::string& prefix,
                              uint32_t shift_base, uint32_t shift_size) {
    ArchiveRead disk(archive_read_disk_new());
    archive_read_disk_set_symlink_physical(disk.get());
    archive_read_disk_set_behavior(disk.get(), ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS |
                                                   ARCHIVE_READDISK_NO_SPARSE);
    std::string base = dir;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    // "/." makes the walk enter the directory even when dir is a symlink (/proc/self/fd/N of a mount).
    if (!base.ends_with("/.")) base += "/.";
    if (archive_read_disk_open(disk.get(), base.c_str()) != ARCHIVE_OK) return archive_failure(disk.get(), "open " + base);
    std::unique_ptr<struct archive_entry_linkresolver, ResolverDeleter> resolver(archive_entry_linkresolver_new());
    archive_entry_linkresolver_set_strategy(resolver.get(), archive_format(out));
    auto shift = [&](la_int64_t id) -> la_int64_t {
        return shift_size && id >= shift_base && id - shift_base < shift_size ? id - shift_base : id;
    };
    uint64_t bytes = 0;
    std::vector<char> buf(256 * 1024);
    for (;;) {
        ArchiveEntry owned(archive_entry_new());
        int r = archive_read_next_header2(disk.get(), owned.get());
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return archive_failure(disk.get(), "walk " + base);
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
        // Numeric owners only (LXD unpacks with --numeric-owner).
        archive_entry_set_uname(owned.get(), nullptr);
        archive_entry_set_gname(owned.get(), nullptr);
        archive_entry_set_uid(owned.get(), shift(archive_entry_uid(owned.get())));
        archive_entry_set_gid(owned.get(), shift(archive_entry_gid(owned.get())));
        if (archive_entry_filetype(owned.get()) == AE_IFSOCK) continue;  // tar cannot hold sockets

        struct archive_entry* e = owned.get();
        struct archive_entry* spare = nullptr;
        // For tar the resolver hands back the same entry (a hard link for a second
        // name of an inode); it never defers entries.
        archive_entry_linkify(resolver.get(), &e, &spare);
        if (!e) continue;
        int w = archive_write_header(out, e);
        if (spare) archive_entry_free(spare);
        if (w == ARCHIVE_FAILED) continue;  // e.g. a file type the format cannot hold
        if (w < ARCHIVE_WARN) return archive_failure(out, "write " + name);
        if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0 && !archive_entry_hardlink(e)) {
            for (;;) {
                la_ssize_t n = archive_read_data(disk.get(), buf.data(), buf.size());
                if (n < 0) return archive_failure(disk.get(), "read " + name);
                if (n == 0) break;
                if (archive_write_data(out, buf.data(), static_cast<size_t>(n)) != n)
                    return archive_failure(out, "write " + name);
                bytes += static_cast<uint64_t>(n);
            }
        }
    }
    return bytes;
}

}  // namespace lxm::store
