#include "store/image_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::store {

using base::Result;

namespace {

struct MdDeleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
    void update(const char* p, size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx_.get(), md, &len);
        static const char* digits = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < len; ++i) {
            out += digits[md[i] >> 4];
            out += digits[md[i] & 15];
        }
        return out;
    }

private:
    std::unique_ptr<EVP_MD_CTX, MdDeleter> ctx_;
};

// Hash a file, copying it to out_fd at the same time when out_fd >= 0.
Result<uint64_t> hash_file(const std::string& path, Sha256& h, int out_fd) {
    LXM_TRY(base::UniqueFd fd, base::open_fd(path, O_RDONLY));
    std::vector<char> buf(1 << 20);
    uint64_t total = 0;
    for (;;) {
        LXM_TRY(size_t n, base::read_some(fd.get(), buf.data(), buf.size()));
        if (n == 0) break;
        h.update(buf.data(), n);
        total += n;
        if (out_fd >= 0) LXM_TRY_VOID(base::wrap(base::write_all(out_fd, std::string_view(buf.data(), n)), "copy " + path));
    }
    return total;
}

bool is_squashfs(const std::string& path) {
    char magic[4] = {};
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = ::read(fd, magic, sizeof magic);
    ::close(fd);
    return n == 4 && std::memcmp(magic, "hsqs", 4) == 0;
}

// A temp file in dir: created, removed on destruction unless released.
class TempFile {
public:
    static Result<TempFile> create(const std::string& dir) {
        std::string tmpl = dir + "/.tmp-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        int fd = ::mkostemp(buf.data(), O_CLOEXEC);
        if (fd < 0) return base::errno_error("create " + tmpl);
        TempFile t;
        t.path_ = buf.data();
        t.fd_.reset(fd);
        return t;
    }
    TempFile() = default;
    TempFile(TempFile&& o) noexcept : path_(std::exchange(o.path_, {})), fd_(std::move(o.fd_)) {}
    TempFile& operator=(TempFile&&) = delete;
    ~TempFile() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    const std::string& path() const { return path_; }
    int fd() const { return fd_.get(); }
    void close() { fd_.reset(); }
    Result<void> commit(const std::string& to) {
        if (fd_ && (::fsync(fd_.get()) != 0 || ::fchmod(fd_.get(), 0600) != 0)) return base::errno_error("sync " + path_);
        fd_.reset();
        if (::rename(path_.c_str(), to.c_str()) != 0) return base::errno_error("rename " + path_ + " to " + to);
        path_.clear();
        return {};
    }

private:
    std::string path_;
    base::UniqueFd fd_;
};

uint64_t file_size(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

bool valid_fingerprint(const std::string& fp) {
    return fp.size() == 64 && std::all_of(fp.begin(), fp.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

Result<std::string> sha256_files(const std::vector<std::string>& files) {
    Sha256 h;
    for (const auto& f : files) LXM_TRY_VOID(hash_file(f, h, -1));
    return h.hex();
}

namespace {

// What tells a file apart from its replacement (not ctime: hard links to it change that).
std::optional<std::string> file_identity(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) + " " + std::to_string(st.st_size) + " " +
           std::to_string(mtime_ns);
}

constexpr std::string_view kSidecarTag = "lxm-sha256 ";

}  // namespace

std::optional<std::string> cached_sha256(const std::string& path) {
    auto id = file_identity(path);
    if (!id) return std::nullopt;
    auto text = base::read_file(path + ".sha256", 4096);
    if (!text || !text->starts_with(kSidecarTag) || text->size() < kSidecarTag.size() + 66) return std::nullopt;
    std::string fp = text->substr(kSidecarTag.size(), 64);
    std::string rest = text->substr(kSidecarTag.size() + 64);
    if (!valid_fingerprint(fp) || rest != " " + *id + "\n") return std::nullopt;
    return fp;
}

void remember_sha256(const std::string& path, const std::string& fp) {
    auto id = file_identity(path);
    if (!id || !valid_fingerprint(fp)) return;
    // Best effort: a read-only cache only costs a hash at the next start.
    (void)base::write_file_atomic(path + ".sha256", std::string(kSidecarTag) + fp + " " + *id + "\n", 0644);
}

Result<std::string> sha256_file_cached(const std::string& path, bool* hit) {
    if (hit) *hit = false;
    if (auto fp = cached_sha256(path)) {
        if (hit) *hit = true;
        return *fp;
    }
    auto before = file_identity(path);
    LXM_TRY(std::string fp, sha256_files({path}));
    // Only when the file did not change while it was read.
    if (before && file_identity(path) == before) remember_sha256(path, fp);
    return fp;
}

Result<ImageStore> ImageStore::open(const std::string& dir) {
    LXM_TRY_VOID(base::mkdir_p(dir, 0700));
    ImageStore s(dir);
    DIR* d = ::opendir(dir.c_str());
    if (!d) return base::errno_error("open " + dir);
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(d)) names.emplace_back(de->d_name);
    ::closedir(d);
    for (const auto& n : names) {
        bool stale = n.starts_with(".tmp-");
        if (n.ends_with(".rootfs")) {
            std::string fp = n.substr(0, n.size() - 7);
            stale = valid_fingerprint(fp) && !base::path_exists(dir + "/" + fp);
        }
        if (stale) (void)base::remove_tree(dir + "/" + n);
    }
    return s;
}

bool ImageStore::has(const std::string& fp) const {
    return valid_fingerprint(fp) && base::path_exists(dir_ + "/" + fp);
}

Result<StoredImage> ImageStore::describe(const std::string& fp) const {
    StoredImage img;
    img.fingerprint = fp;
    img.metadata_file = dir_ + "/" + fp;
    if (base::path_exists(img.metadata_file + ".rootfs")) {
        img.layout = ImageLayout::split;
        img.rootfs_file = img.metadata_file + ".rootfs";
    }
    img.size = file_size(img.metadata_file) + (img.rootfs_file.empty() ? 0 : file_size(img.rootfs_file));
    LXM_TRY(std::string yaml, read_tar_member(img.metadata_file, "metadata.yaml"));
    LXM_TRY(img.metadata, parse_image_metadata(yaml));
    return img;
}

Result<StoredImage> ImageStore::get(const std::string& fp) const {
    if (!has(fp)) return base::make_error(std::errc::no_such_file_or_directory, "image " + fp + " not found");
    return describe(fp);
}

std::vector<std::string> ImageStore::list() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir_.c_str());
    if (!d) return out;
    while (struct dirent* de = ::readdir(d))
        if (valid_fingerprint(de->d_name)) out.emplace_back(de->d_name);
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::string> ImageStore::resolve_prefix(const std::string& prefix) const {
    if (prefix.empty()) return base::make_error(std::errc::invalid_argument, "empty fingerprint");
    std::string found;
    for (const auto& fp : list()) {
        if (!fp.starts_with(prefix)) continue;
        if (!found.empty()) return base::make_error(std::errc::invalid_argument, "fingerprint prefix " + prefix + " is ambiguous");
        found = fp;
    }
    if (found.empty()) return base::make_error(std::errc::no_such_file_or_directory, "image " + prefix + " not found");
    return found;
}

Result<void> ImageStore::remove(const std::string& fp) {
    if (!valid_fingerprint(fp)) return base::make_error(std::errc::invalid_argument, "bad fingerprint " + fp);
    // Metadata first: without <fp> the image is gone; an orphan .rootfs goes at the next open().
    std::string meta = dir_ + "/" + fp;
    if (::unlink(meta.c_str()) != 0 && errno != ENOENT) return base::errno_error("remove " + meta);
    if (::unlink((meta + ".rootfs").c_str()) != 0 && errno != ENOENT) return base::errno_error("remove " + meta + ".rootfs");
    return {};
}

Result<StoredImage> ImageStore::import(const std::string& meta_path, const std::optional<std::string>& rootfs_path,
                                       Take take, const std::string& expected_fp) {
    // Validate the content before keeping anything.
    LXM_TRY(std::string yaml, base::wrap(read_tar_member(meta_path, "metadata.yaml"), "image metadata"));
    LXM_TRY(ImageMetadata meta, parse_image_metadata(yaml));
    (void)meta;
    if (!rootfs_path) {
        LXM_TRY(bool has_rootfs, tar_has_prefix(meta_path, "rootfs"));
        if (!has_rootfs)
            return base::make_error(std::errc::not_supported, "unified image without rootfs/ (virtual-machine images are not supported)");
    }

    std::vector<std::string> inputs{meta_path};
    if (rootfs_path) inputs.push_back(*rootfs_path);
    Sha256 h;
    std::vector<TempFile> copies;
    for (const auto& in : inputs) {
        bool moved = false;
        if (take == Take::move) {
            LXM_TRY(TempFile t, TempFile::create(dir_));
            t.close();
            if (::rename(in.c_str(), t.path().c_str()) == 0) {
                LXM_TRY_VOID(hash_file(t.path(), h, -1));
                copies.push_back(std::move(t));
                moved = true;
            } else if (errno != EXDEV) {
                return base::errno_error("move " + in + " into the image store");
            }
        }
        if (!moved) {
            LXM_TRY(TempFile t, TempFile::create(dir_));
            LXM_TRY_VOID(hash_file(in, h, t.fd()));
            copies.push_back(std::move(t));
        }
    }
    std::string fp = h.hex();
    if (!expected_fp.empty() && fp != expected_fp)
        return base::make_error(std::errc::invalid_argument, "fingerprints don't match, got " + fp + " expected " + expected_fp);
    if (has(fp)) return base::make_error(std::errc::file_exists, "image with fingerprint " + fp + " already exists");
    std::string final_meta = dir_ + "/" + fp;
    if (rootfs_path) LXM_TRY_VOID(copies[1].commit(final_meta + ".rootfs"));
    LXM_TRY_VOID(copies[0].commit(final_meta));
    return describe(fp);
}

Result<StoredImage> ImageStore::import_rootfs_dir(const std::string& rootfs_dir, const ImageMetadata& meta,
                                                  const PackOptions& opts) {
    LXM_TRY(TempFile t, TempFile::create(dir_));
    t.close();
    LXM_TRY_VOID(build_image_from_rootfs(rootfs_dir, meta, t.path(), opts));
    LXM_TRY(std::string fp, sha256_files({t.path()}));
    if (has(fp)) return base::make_error(std::errc::file_exists, "image with fingerprint " + fp + " already exists");
    LXM_TRY_VOID(t.commit(dir_ + "/" + fp));
    return describe(fp);
}

Result<UnpackReport> ImageStore::unpack_rootfs(const std::string& fp, const std::string& dir,
                                               const UnpackOptions& opts) const {
    LXM_TRY(StoredImage img, get(fp));
    UnpackOptions o = opts;
    if (img.layout == ImageLayout::unified) {
        o.prefix = "rootfs";
        return unpack_tarball(img.metadata_file, dir, o);
    }
    o.prefix.clear();
    if (!is_squashfs(img.rootfs_file)) return unpack_tarball(img.rootfs_file, dir, o);
    // squashfs: unsquashfs writes through the paths it creates itself (no
    // tarball entry names involved); -d needs a fresh directory.
    std::string sub = dir + "/.squashfs-root";
    base::SpawnOptions so;
    so.argv = {"unsquashfs", "-n", "-d", sub, img.rootfs_file};
    so.die_with_parent = true;  // a killed lxmd leaves no unsquashfs writing into the pool's tmp/
    auto r = base::spawn_checked(so);
    if (!r) {
        (void)base::remove_tree(sub);
        return std::unexpected(base::wrap(r.error(), "unsquashfs " + img.rootfs_file));
    }
    // Move the tree's content up into dir.
    base::SpawnOptions mv;
    mv.argv = {"sh", "-c", "cd \"$1\" && for f in * .[!.]* ..?*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; mv -- \"$f\" \"$2\"/; done", "sh", sub, dir};
    LXM_TRY_VOID(base::wrap(base::spawn_checked(mv), "move squashfs content"));
    struct stat st;
    if (::stat(sub.c_str(), &st) == 0) {
        (void)::chown(dir.c_str(), st.st_uid, st.st_gid);
        (void)::chmod(dir.c_str(), st.st_mode & 07777);
    }
    ::rmdir(sub.c_str());
    return UnpackReport{};
}

Result<std::map<std::string, std::string>> ImageStore::template_files(const std::string& fp) const {
    LXM_TRY(StoredImage img, get(fp));
    LXM_TRY(auto files, read_tar_members_under(img.metadata_file, "templates"));
    return std::map<std::string, std::string>(files.begin(), files.end());
}

Result<std::vector<std::string>> ImageStore::export_files(const std::string& fp) const {
    LXM_TRY(StoredImage img, get(fp));
    std::vector<std::string> out{img.metadata_file};
    if (!img.rootfs_file.empty()) out.push_back(img.rootfs_file);
    return out;
}

Result<void> ImageStore::export_unified(const std::string& fp, const std::string& out_path, Compression c) const {
    LXM_TRY(StoredImage img, get(fp));
    if (img.layout == ImageLayout::unified) {
        // Already unified: a plain copy (through a temp file beside out_path).
        auto slash = out_path.rfind('/');
        std::string out_dir = slash == std::string::npos ? "." : slash == 0 ? "/" : out_path.substr(0, slash);
        LXM_TRY(TempFile t, TempFile::create(out_dir));
        Sha256 h;
        LXM_TRY_VOID(hash_file(img.metadata_file, h, t.fd()));
        return t.commit(out_path);
    }
    if (is_squashfs(img.rootfs_file))
        return base::make_error(std::errc::not_supported, "unified export of a squashfs image");
    return unify_split_image(img.metadata_file, img.rootfs_file, out_path, c);
}

}  // namespace lxm::store
