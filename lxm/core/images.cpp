#include "lxm/core/images.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/data_dir.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/base/safe_path.hpp"
#include "lxm/base/spawn.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/core/image_templates.hpp"
#include "lxm/core/instances.hpp"
#include "lxm/core/names.hpp"
#include "lxm/core/unix_time.hpp"
#include "store/instances.hpp"
#include "store/errors.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;

namespace {

// Bumped when the way recipe images are packed changes (old cached tarballs are then ignored).
constexpr const char* kPackVersion = "lxm-recipe-image-1";

std::string trim(std::string s) {
    auto b = s.find_first_not_of(" \t\r\n");
    auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string build_script() { return base::find_data_file("scripts/build-rootfs.sh"); }

std::string cache_dir() {
    const char* c = std::getenv("LXM_IMAGE_CACHE");
    return c && *c ? c : "/var/cache/lxm/images";
}

// The recipe file of a placeholder row ("" for a real image). "recipe" marked the rows of
// the stand-in that came before the image store.
std::string placeholder_recipe(const store::ImageRecord& r) {
    for (const char* k : {kRecipeProperty, "recipe"})
        if (auto it = r.properties.find(k); it != r.properties.end()) return it->second;
    return {};
}

// LXD's architecture names in the API ("amd64" in a recipe or a Debian-made image is x86_64).
std::string api_arch(const std::string& a) {
    if (a == "amd64") return "x86_64";
    if (a == "arm64") return "aarch64";
    if (a == "i386" || a == "i686") return "i686";
    return a;
}

// Regular files of a directory (not recursive): name -> content.
Result<std::map<std::string, std::string>> read_dir_files(const std::string& dir) {
    std::map<std::string, std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return out;
        return base::errno_error("open " + dir);
    }
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    for (const auto& n : names) {
        struct stat st;
        if (::stat((dir + "/" + n).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        LXM_TRY(out[n], base::read_file(dir + "/" + n, 1 << 20));
    }
    return out;
}

// templates.yaml of a recipe: the "templates:" map of metadata.yaml, with or without the key.
Result<std::map<std::string, store::ImageTemplate>> parse_templates_yaml(const std::string& text) {
    std::string doc = "architecture: x86_64\ncreation_date: 1\n";
    bool keyed = text.starts_with("templates:") || text.find("\ntemplates:") != std::string::npos;
    if (keyed) {
        doc += text;
    } else {
        doc += "templates:\n";
        size_t pos = 0;
        while (pos < text.size()) {
            size_t nl = text.find('\n', pos);
            if (nl == std::string::npos) nl = text.size();
            doc += "  " + text.substr(pos, nl - pos) + "\n";
            pos = nl + 1;
        }
    }
    LXM_TRY(store::ImageMetadata m, store::parse_image_metadata(doc));
    return m.templates;
}

// What a recipe image is made of: metadata and template files.
struct RecipeImage {
    Recipe recipe;
    store::ImageMetadata meta;
    std::map<std::string, std::string> template_files;
    std::string key;  // sha256 hex of everything that makes the image
};

Result<std::string> sha256_text(const std::string& text) {
    base::SpawnOptions o;
    o.argv = {"sha256sum"};
    o.stdin_data = text;
    o.timeout = std::chrono::seconds(30);
    LXM_TRY(base::SpawnResult r, base::spawn_checked(o));
    std::string h = r.out.substr(0, r.out.find(' '));
    if (!store::valid_fingerprint(h)) return base::make_error(std::errc::bad_message, "sha256sum printed " + r.out);
    return h;
}

// recipe_path: the .yaml; its templates are in the sibling directory <name>/.
Result<RecipeImage> load_recipe(const std::string& recipe_path, const std::string& text) {
    RecipeImage ri;
    ri.recipe = parse_recipe(recipe_path, text);
    const Recipe& r = ri.recipe;
    if (r.get("name").empty()) return http_error(400, "The recipe has no name");
    ri.meta.architecture = api_arch(r.get("architecture").empty() ? "amd64" : r.get("architecture"));
    ri.meta.creation_date = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    auto prop = [&](const char* key, const std::string& v) {
        if (!v.empty()) ri.meta.properties[key] = v;
    };
    prop("os", r.get("distro"));
    prop("release", r.get("release"));
    prop("architecture", r.get("architecture"));
    prop("description", r.get("description"));
    prop("variant", r.get("variant"));
    prop("stop_signal", r.get("stop_signal"));
    prop("init", r.get("init"));
    prop("name", r.get("name"));

    std::string tdir = recipe_path.substr(0, recipe_path.size() - (recipe_path.ends_with(".yaml") ? 5 : 0));
    LXM_TRY(auto files, read_dir_files(tdir));
    std::string key_text = std::string(kPackVersion) + "\n" + text + "\n";
    LXM_TRY(std::string script, base::wrap(base::read_file(build_script()), "read the rootfs build script"));
    key_text += script;
    for (const auto& [n, c] : files) key_text += "\n--file " + n + "\n" + c;
    if (auto t = files.find("templates.yaml"); t != files.end()) {
        LXM_TRY(ri.meta.templates, base::wrap(parse_templates_yaml(t->second), tdir + "/templates.yaml"));
        for (const auto& [path, tpl] : ri.meta.templates) {
            if (!files.count(tpl.template_file))
                return http_error(400, "Template " + tpl.template_file + " for " + path + " is missing from " + tdir);
            ri.template_files[tpl.template_file] = files[tpl.template_file];
        }
    }
    LXM_TRY(ri.key, sha256_text(key_text));
    return ri;
}

std::vector<std::string> recipe_files() {
    std::string dir = base::find_data_file("templates/recipes");
    std::vector<std::string> files;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 5 && n.ends_with(".yaml")) files.push_back(dir + "/" + n);
        }
        ::closedir(d);
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::string tarball_for(const RecipeImage& ri) {
    return cache_dir() + "/" + ri.recipe.get("name") + "-" + ri.key.substr(0, 16) + ".lxd-image.tar.gz";
}

// Map store errors of an import to what the client did wrong.
base::Error import_error(base::Error e) {
    if (e.code == std::errc::file_exists) return apitypes::http_error(409, apitypes::user_message(e)).error();
    int s = apitypes::http_status_of(e);
    if (s) return e;
    if (e.code == std::errc::no_space_on_device || e.code == std::errc::not_enough_memory)
        return e;
    return apitypes::http_error(400, "Invalid image: " + e.message()).error();
}

// A read-only overlay of a snapshot (its upper over the image) attached nowhere.
Result<base::UniqueFd> snapshot_overlay(const store::InstanceRootfs& vol) {
    int fs = static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC));
    if (fs < 0) return base::errno_error("fsopen overlay");
    base::UniqueFd fsfd(fs);
    std::string lowers = vol.upper_dir + ":" + vol.rootfs;
    if (::syscall(SYS_fsconfig, fsfd.get(), FSCONFIG_SET_STRING, "lowerdir", lowers.c_str(), 0) != 0)
        return base::errno_error("overlay lowerdir " + lowers);
    if (::syscall(SYS_fsconfig, fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return base::errno_error("create overlay of the snapshot");
    int m = static_cast<int>(::syscall(SYS_fsmount, fsfd.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY));
    if (m < 0) return base::errno_error("fsmount overlay");
    return base::UniqueFd(m);
}

}  // namespace

Recipe parse_recipe(const std::string& path, const std::string& text) {
    Recipe r;
    r.path = path;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty() || line[0] == '#' || line[0] == ' ' || line[0] == '\t') continue;
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        r.keys[trim(line.substr(0, colon))] = trim(line.substr(colon + 1));
    }
    return r;
}

Images::Images(DaemonState& state) : state_(state) {
    auto s = store::ImageStore::open(store_dir());
    if (s) store_.emplace(std::move(*s));
    else store_error_ = base::wrap(s.error(), "open the image store");
}

std::string Images::store_dir() const { return state_.paths().root + "/images"; }

Result<store::ImageStore*> Images::st() {
    if (!store_) return std::unexpected(store_error_);
    return &*store_;
}

std::shared_ptr<std::mutex> Images::lock_for(const std::string& key) {
    std::lock_guard g(mu_);
    auto& p = locks_[key];
    if (!p) p = std::make_shared<std::mutex>();
    return p;
}

// ---- built-in recipes ---------------------------------------------------------------------

Result<void> Images::register_builtin() {
    LXM_TRY(auto* is, st());
    for (const auto& f : recipe_files()) {
        LXM_TRY(std::string text, base::read_file(f));
        auto ri = load_recipe(f, text);
        if (!ri) {
            LXM_WARN("recipe {}: {}", f, ri.error().message());
            continue;
        }
        std::string alias = ri->recipe.get("alias");
        if (alias.empty()) continue;
        std::string tarball = tarball_for(*ri);
        if (base::path_exists(tarball)) {
            // Cached: the real image, by a hard link when the cache is on the same filesystem.
            // The tarball's fingerprint is remembered beside it: a restart that finds the
            // image already in the store reads neither the tarball nor its hash again.
            std::string fp;
            base::Result<store::StoredImage> img = base::make_error(std::errc::file_exists, "in the store");
            if (auto known = store::cached_sha256(tarball); known && is->has(*known)) {
                fp = *known;
            } else {
                img = import_file_linked(tarball);
                if (img) {
                    fp = img->fingerprint;
                    store::remember_sha256(tarball, fp);
                } else if (img.error().code == std::errc::file_exists) {
                    LXM_TRY(fp, store::sha256_file_cached(tarball));
                }
            }
            if (!fp.empty()) {
                LXM_TRY(store::StoredImage stored, is->get(fp));
                ImageOptions o;
                // The alias follows the recipe's newest image, unless the admin pointed it at another image.
                auto cur = resolve(alias, "");
                bool ours = !cur || !placeholder_recipe(*cur).empty() ||
                            (cur->properties.count("name") && cur->properties.at("name") == ri->recipe.get("name"));
                if (ours) o.aliases.push_back(store::ImageAlias{alias, fp, ri->recipe.get("description")});
                auto rec = register_stored(stored, o, true);
                if (!rec) LXM_WARN("recipe image {}: {}", alias, rec.error().message());
                else LXM_DEBUG("image {} registered as {}", alias, fp);
                continue;
            }
            LXM_WARN("cached image {} unusable ({}); it will be rebuilt", tarball, img.error().message());
        }
        // Not built on this machine: a placeholder that resolves the alias until first use.
        store::ImageRecord rec;
        rec.fingerprint = ri->key;
        rec.filename = ri->recipe.get("name") + ".tar.gz";
        rec.architecture = ri->meta.architecture;
        rec.created_at = rec.uploaded_at = now_ns();
        rec.properties = ri->meta.properties;
        rec.properties[kRecipeProperty] = f.substr(f.rfind('/') + 1);
        LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
            auto a = store::get_image_alias(tx, alias);
            if (a && a->fingerprint != ri->key) {
                auto cur = store::get_image(tx, a->fingerprint);
                // A real image already answers to this alias (built earlier or imported): keep it.
                if (cur && placeholder_recipe(*cur).empty()) return {};
            }
            auto have = store::get_image(tx, ri->key);
            if (!have) {
                if (!store::is_not_found(have.error())) return std::unexpected(have.error());
                LXM_TRY_VOID(store::create_image(tx, rec));
            }
            if (!a) {
                if (!store::is_not_found(a.error())) return std::unexpected(a.error());
                return store::create_image_alias(tx, store::ImageAlias{alias, ri->key, ri->recipe.get("description")});
            }
            if (a->fingerprint != ri->key) {
                std::string old = a->fingerprint;
                a->fingerprint = ri->key;
                LXM_TRY_VOID(store::update_image_alias(tx, *a));
                // An older placeholder of the same recipe goes.
                auto prev = store::get_image(tx, old);
                if (prev && !placeholder_recipe(*prev).empty()) LXM_TRY_VOID(store::delete_image(tx, old));
            }
            return {};
        }));
        LXM_DEBUG("image {} registered as a recipe placeholder {}", alias, ri->key);
    }
    return {};
}

Result<store::StoredImage> Images::import_file_linked(const std::string& tarball) {
    LXM_TRY(auto* is, st());
    std::string tmp = is->dir() + "/.tmp-link-" + std::to_string(::getpid()) + "-" + std::to_string(now_ns());
    if (::link(tarball.c_str(), tmp.c_str()) == 0) {
        auto r = is->import(tmp, std::nullopt, store::ImageStore::Take::move);
        ::unlink(tmp.c_str());  // still here when the import failed
        return r;
    }
    return is->import(tarball, std::nullopt, store::ImageStore::Take::copy);
}

Result<std::string> Images::recipe_tarball(const std::string& recipe_path, const Progress& progress) {
    LXM_TRY(auto* is, st());
    (void)is;
    LXM_TRY(std::string text, base::read_file(recipe_path));
    LXM_TRY(RecipeImage ri, load_recipe(recipe_path, text));
    std::string tarball = tarball_for(ri);
    auto lk = lock_for("recipe:" + ri.key);
    std::lock_guard g(*lk);
    if (base::path_exists(tarball)) return tarball;
    if (progress) progress({{"download_progress", "building rootfs from recipe " + ri.recipe.get("name")}});
    LXM_INFO("building image from {}", recipe_path);
    base::SpawnOptions o;
    o.argv = {"bash", build_script(), recipe_path};
    o.timeout = std::chrono::minutes(30);
    o.output_limit = 64 * 1024;
    LXM_TRY(base::SpawnResult built, base::wrap(base::spawn_checked(o), "build rootfs from " + recipe_path));
    std::string out = trim(built.out);
    std::string rootfs = trim(out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1));
    if (rootfs.empty() || !base::path_exists(rootfs))
        return base::make_error(std::errc::io_error, "build-rootfs.sh printed no rootfs path");
    if (progress) progress({{"download_progress", "packing image " + ri.recipe.get("name")}});
    LXM_TRY_VOID(base::mkdir_p(cache_dir(), 0755));
    store::PackOptions po;
    po.template_files = ri.template_files;
    // build_image_from_rootfs writes beside the target and renames: a killed build leaves no tarball.
    LXM_TRY_VOID(base::wrap(store::build_image_from_rootfs(rootfs, ri.meta, tarball, po), "pack " + rootfs));
    return tarball;
}

Result<store::ImageRecord> Images::build_recipe(const std::string& recipe_text,
                                                const std::map<std::string, std::string>& template_dir,
                                                const ImageOptions& opts, const Progress& progress) {
    LXM_TRY(auto* is, st());
    // The recipe and its templates into a private directory (names only, no paths).
    Recipe r = parse_recipe("", recipe_text);
    std::string name = r.get("name");
    if (name.empty() || name.find('/') != std::string::npos || name.front() == '.')
        return http_error(400, "The recipe needs a plain name");
    if (r.get("distro").empty()) return http_error(400, "The recipe needs a distro");
    std::string dir = is->dir() + "/.tmp-recipe-" + std::to_string(now_ns());
    LXM_TRY_VOID(base::mkdir_p(dir + "/" + name, 0700));
    struct Cleanup {
        std::string d;
        ~Cleanup() { (void)base::remove_tree(d); }
    } cleanup{dir};
    std::string path = dir + "/" + name + ".yaml";
    LXM_TRY_VOID(base::write_file_atomic(path, recipe_text, 0600));
    for (const auto& [n, c] : template_dir) {
        if (n.empty() || n.find('/') != std::string::npos || n.front() == '.')
            return http_error(400, "Bad template file name \"" + n.substr(0, 64) + "\"");
        LXM_TRY_VOID(base::write_file_atomic(dir + "/" + name + "/" + n, c, 0600));
    }
    LXM_TRY(std::string tarball, recipe_tarball(path, progress));
    if (progress) progress({{"download_progress", "importing image " + name}});
    auto img = import_file_linked(tarball);
    std::string fp;
    if (img) {
        fp = img->fingerprint;
        store::remember_sha256(tarball, fp);
    } else if (img.error().code == std::errc::file_exists) {
        LXM_TRY(fp, store::sha256_file_cached(tarball));
    } else {
        return std::unexpected(img.error());
    }
    {
        auto lk = lock_for(fp);
        std::lock_guard g(*lk);
        auto u = unpack_into_pool(fp, state_.pool());
        if (!u) {
            if (img) (void)is->remove(fp);
            return std::unexpected(u.error());
        }
    }
    LXM_TRY(store::StoredImage stored, is->get(fp));
    ImageOptions o = opts;
    if (!r.get("alias").empty() &&
        std::none_of(o.aliases.begin(), o.aliases.end(), [&](const auto& a) { return a.name == r.get("alias"); }))
        o.aliases.push_back(store::ImageAlias{r.get("alias"), fp, r.get("description")});
    // The alias of a recipe follows its newest build.
    return register_stored(stored, o, true);
}

// ---- lookups ------------------------------------------------------------------------------

Result<store::ImageRecord> Images::resolve(const std::string& alias, const std::string& fingerprint) {
    return state_.store().read([&](store::Transaction& tx) -> Result<store::ImageRecord> {
        std::string fp = fingerprint;
        if (fp.empty()) {
            if (alias.empty()) return http_error(400, "The image source needs an alias or a fingerprint");
            auto a = store::get_image_alias(tx, alias);
            if (!a) {
                if (store::is_not_found(a.error()))
                    return http_error(404, "Image alias \"" + alias.substr(0, 128) + "\" not found");
                return std::unexpected(a.error());
            }
            fp = a->fingerprint;
        }
        auto img = store::find_image(tx, fp);
        if (!img) {
            if (store::is_not_found(img.error())) return http_error(404, "Image \"" + fp.substr(0, 64) + "\" not found");
            if (img.error().code == std::errc::invalid_argument)
                return http_error(400, "Image fingerprint prefix \"" + fp.substr(0, 64) + "\" is ambiguous");
            return std::unexpected(img.error());
        }
        return img;
    });
}

Result<void> Images::unpack_into_pool(const std::string& fp, store::PoolDriver& pool) {
    LXM_TRY(auto* is, st());
    if (pool.has_image(fp)) return {};
    return pool.ensure_image(fp, [&](const std::string& dir) -> Result<void> {
        LXM_TRY(store::UnpackReport rep, is->unpack_rootfs(fp, dir));
        if (!rep.skipped.empty())
            LXM_DEBUG("image {}: {} entries skipped (first: {})", fp.substr(0, 12), rep.skipped.size(), rep.skipped[0]);
        return {};
    });
}

Result<void> Images::ensure_in_pool(store::ImageRecord& image, const Progress& progress, store::PoolDriver* pool) {
    LXM_TRY(auto* is, st());
    store::PoolDriver& target = pool ? *pool : state_.pool();
    if (std::string file = placeholder_recipe(image);
        !file.empty() && !is->has(image.fingerprint) && !target.has_image(image.fingerprint)) {
        // A placeholder: build (or take the cached tarball), then continue with the real image.
        std::string recipe = base::find_data_file("templates/recipes/" + file);
        LXM_TRY(std::string text, base::read_file(recipe));
        std::map<std::string, std::string> tdir;
        LXM_TRY(tdir, read_dir_files(recipe.substr(0, recipe.size() - 5)));
        LXM_TRY(store::ImageRecord real, build_recipe(text, tdir, ImageOptions{}, progress));
        image = real;
    }
    auto lk = lock_for(image.fingerprint);
    std::lock_guard g(*lk);  // one unpack per image; others wait for it
    if (target.has_image(image.fingerprint)) return {};
    if (!is->has(image.fingerprint))
        return http_error(400, "Image " + image.fingerprint.substr(0, 12) + " has no files in the image store");
    if (progress) progress({{"download_progress", "unpacking image into the storage pool"}});
    return unpack_into_pool(image.fingerprint, target);
}

// ---- import -------------------------------------------------------------------------------

Result<store::ImageRecord> Images::register_stored(const store::StoredImage& img, const ImageOptions& opts,
                                                   bool move_aliases) {
    store::ImageRecord rec;
    rec.fingerprint = img.fingerprint;
    rec.filename = opts.filename;
    if (rec.filename.empty())
        rec.filename = img.fingerprint + (img.layout == store::ImageLayout::split ? ".tar.xz" : ".tar.gz");
    rec.size = static_cast<int64_t>(img.size);
    rec.is_public = opts.is_public;
    rec.architecture = api_arch(img.metadata.architecture);
    rec.created_at = img.metadata.creation_date * 1000000000LL;
    rec.uploaded_at = now_ns();
    rec.expires_at = opts.expires_at;
    if (!rec.expires_at && img.metadata.expiry_date) rec.expires_at = img.metadata.expiry_date * 1000000000LL;
    rec.properties = img.metadata.properties;
    for (const auto& [k, v] : opts.properties) rec.properties[k] = v;
    rec.properties.erase(kRecipeProperty);
    rec.properties.erase("recipe");
    return state_.store().write([&](store::Transaction& tx) -> Result<store::ImageRecord> {
        auto have = store::get_image(tx, rec.fingerprint);
        if (have) {
            rec = *have;
        } else {
            if (!store::is_not_found(have.error())) return std::unexpected(have.error());
            LXM_TRY(rec.id, store::create_image(tx, rec));
        }
        for (auto a : opts.aliases) {
            a.fingerprint = rec.fingerprint;
            auto cur = store::get_image_alias(tx, a.name);
            if (cur) {
                if (cur->fingerprint == rec.fingerprint) continue;
                auto target = store::get_image(tx, cur->fingerprint);
                bool placeholder = target && !placeholder_recipe(*target).empty();
                if (!move_aliases && !placeholder)
                    return http_error(409, "Alias \"" + a.name.substr(0, 128) + "\" already exists");
                std::string old = cur->fingerprint;
                LXM_TRY_VOID(store::update_image_alias(tx, a));
                if (placeholder) LXM_TRY_VOID(store::delete_image(tx, old));
            } else {
                if (!store::is_not_found(cur.error())) return std::unexpected(cur.error());
                LXM_TRY_VOID(store::create_image_alias(tx, a));
            }
        }
        return rec;
    });
}

Result<store::ImageRecord> Images::import(const ImageUpload& up, const ImageOptions& opts) {
    LXM_TRY(auto* is, st());
    for (const auto& a : opts.aliases)
        if (a.name.empty() || a.name.size() > 255) return http_error(400, "Bad alias name");
    auto stored = is->import(up.metadata_or_unified, up.rootfs, store::ImageStore::Take::move, up.expected_fingerprint);
    if (!stored) return std::unexpected(import_error(stored.error()));
    const std::string fp = stored->fingerprint;
    // The whole tarball is checked by unpacking it where instances will use it.
    {
        auto lk = lock_for(fp);
        std::lock_guard g(*lk);
        auto u = unpack_into_pool(fp, state_.pool());
        if (!u) {
            (void)is->remove(fp);
            return std::unexpected(import_error(u.error()));
        }
    }
    auto rec = register_stored(*stored, opts, false);
    if (!rec) {
        (void)remove(fp);
        return std::unexpected(rec.error());
    }
    LXM_INFO("image {} imported ({} bytes)", fp.substr(0, 12), stored->size);
    return rec;
}

Result<void> Images::remove(const std::string& fp) {
    LXM_TRY(auto* is, st());
    LXM_TRY(bool used, state_.store().write([&](store::Transaction& tx) -> Result<bool> {
        auto have = store::get_image(tx, fp);
        if (have) LXM_TRY_VOID(store::delete_image(tx, fp));  // deletes its aliases
        else if (!store::is_not_found(have.error())) return std::unexpected(have.error());
        LXM_TRY(auto insts, store::list_instances(tx));
        return std::any_of(insts.begin(), insts.end(), [&](const auto& r) { return r.image_fingerprint == fp; });
    }));
    if (is->has(fp)) LXM_TRY_VOID(is->remove(fp));
    // Instances of an overlay pool read the unpacked image as their lower layer: it stays while one exists.
    if (used) return {};
    auto lk = lock_for(fp);
    std::lock_guard g(*lk);
    for (const auto& name : state_.pool_names()) {
        auto pool = state_.pool(name);
        if (pool && (*pool)->has_image(fp)) LXM_TRY_VOID((*pool)->delete_image(fp));
    }
    return {};
}

Result<void> Images::create_alias(const store::ImageAlias& alias) {
    if (alias.name.empty() || alias.name.size() > 255 || alias.name.find_first_of(" \t\n") != std::string::npos)
        return http_error(400, "Bad alias name \"" + alias.name.substr(0, 64) + "\"");
    return state_.store().transaction([&](store::Transaction& tx) -> Result<void> {
        auto img = store::find_image(tx, alias.fingerprint);
        if (!img && store::is_not_found(img.error())) return http_error(404, "Image \"" + alias.fingerprint.substr(0, 64) + "\" not found");
        if (!img) return std::unexpected(img.error());
        auto cur = store::get_image_alias(tx, alias.name);
        if (cur) return http_error(409, "Alias \"" + alias.name.substr(0, 128) + "\" already exists");
        if (!store::is_not_found(cur.error())) return std::unexpected(cur.error());
        store::ImageAlias a = alias;
        a.fingerprint = img->fingerprint;
        return store::create_image_alias(tx, a);
    });
}

// ---- publish ------------------------------------------------------------------------------

Result<store::ImageRecord> Images::publish(Instances& instances, const PublishSource& src, const ImageOptions& opts,
                                           const Progress& progress) {
    LXM_TRY(auto* is, st());
    LXM_TRY(apitypes::Instance inst, instances.get(src.instance));
    store::InstanceRecord rec;
    LXM_TRY(rec, state_.store().read([&](store::Transaction& tx) {
        return store::get_instance(tx, "default", src.instance);
    }));

    store::ImageMetadata meta;
    meta.architecture = inst.architecture.empty() ? "x86_64" : inst.architecture;
    meta.creation_date =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& [k, v] : inst.config)
        if (k.starts_with("image.") && k.size() > 6) meta.properties[k.substr(6)] = v;
    for (const auto& [k, v] : opts.properties) meta.properties[k] = v;
    meta.properties.erase(kRecipeProperty);
    store::PackOptions po;
    LXM_TRY(store::PoolDriver * pool, state_.pool(rec.storage_pool.empty() ? state_.pool_name() : rec.storage_pool));
    // The instance's file templates come along: the copy it keeps of its image's (as LXD
    // publishes the instance's own), else those of its image if still stored.
    LXM_TRY(TemplateSet kept, load_template_set(pool->instance_dir(src.instance)));
    if (!kept.empty()) {
        meta.templates = kept.metadata.templates;
        po.template_files = kept.files;
    } else if (!rec.image_fingerprint.empty() && is->has(rec.image_fingerprint)) {
        LXM_TRY(store::StoredImage base_img, is->get(rec.image_fingerprint));
        meta.templates = base_img.metadata.templates;
        LXM_TRY(po.template_files, is->template_files(rec.image_fingerprint));
    }
    if (progress) progress({{"progress", "packing image"}});

    std::string tmp_name = is->dir() + "/.tmp-publish-" + std::to_string(now_ns()) + ".tar.gz";
    struct Cleanup {
        std::string p;
        ~Cleanup() { ::unlink(p.c_str()); }
    } cleanup{tmp_name};

    if (src.snapshot.empty()) {
        if (inst.status != "Stopped")
            return http_error(400, "Instance \"" + src.instance + "\" is running: stop it before publishing it");
        LXM_TRY_VOID(instances.with_root(src.instance, [&](const InstanceRoot& root) -> Result<void> {
            if (!root.mount) return http_error(400, "Instance \"" + src.instance + "\" is running: stop it first");
            store::PackOptions p = po;
            if (!root.privileged) {
                p.shift_base = root.id_base;
                p.shift_size = root.id_size;
            }
            return store::build_image_from_rootfs(base::fd_path(root.root.get()) + "/.", meta, tmp_name, p);
        }));
    } else {
        LXM_TRY(auto snap, instances.snapshot(src.instance, src.snapshot));
        (void)snap;
        LXM_TRY(store::InstanceRootfs vol, pool->snapshot_rootfs(src.instance, src.snapshot));
        store::PackOptions p = po;
        if (rec.idmap_base && rec.idmap_size) {
            p.shift_base = static_cast<uint32_t>(*rec.idmap_base);
            p.shift_size = static_cast<uint32_t>(*rec.idmap_size);
        }
        if (vol.upper_dir.empty()) {
            // dir/btrfs keep the tree unshifted: no shift needed (and none applies).
            LXM_TRY_VOID(store::build_image_from_rootfs(vol.rootfs, meta, tmp_name, p));
        } else {
            LXM_TRY(base::UniqueFd m, snapshot_overlay(vol));
            LXM_TRY_VOID(store::build_image_from_rootfs(base::fd_path(m.get()) + "/.", meta, tmp_name, p));
        }
    }
    if (progress) progress({{"progress", "storing image"}});
    auto stored = is->import(tmp_name, std::nullopt, store::ImageStore::Take::move);
    if (!stored) return std::unexpected(import_error(stored.error()));
    {
        auto lk = lock_for(stored->fingerprint);
        std::lock_guard g(*lk);
        auto u = unpack_into_pool(stored->fingerprint, state_.pool());
        if (!u) {
            (void)is->remove(stored->fingerprint);
            return std::unexpected(u.error());
        }
    }
    auto out = register_stored(*stored, opts, false);
    if (!out) {
        (void)remove(stored->fingerprint);
        return std::unexpected(out.error());
    }
    LXM_INFO("image {} published from {}{}", stored->fingerprint.substr(0, 12), src.instance,
             src.snapshot.empty() ? "" : "/" + src.snapshot);
    return out;
}

}  // namespace lxm::core
