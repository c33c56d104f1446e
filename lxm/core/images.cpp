#include "lxm/core/images.hpp"

#include <dirent.h>

#include <algorithm>
#include <chrono>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/data_dir.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/log.hpp"
#include "lxm/base/spawn.hpp"

namespace lxm::core {

namespace {

std::string trim(std::string s) {
    auto b = s.find_first_not_of(" \t\r\n");
    auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

base::Result<std::string> sha256_hex(const std::string& data) {
    base::SpawnOptions o;
    o.argv = {"sha256sum"};
    o.stdin_data = data;
    o.timeout = std::chrono::seconds(30);
    LXM_TRY(base::SpawnResult r, base::spawn_checked(o));
    std::string h = r.out.substr(0, r.out.find(' '));
    if (h.size() != 64) return base::make_error(std::errc::bad_message, "sha256sum printed " + r.out);
    return h;
}

std::string build_script() { return base::find_data_file("scripts/build-rootfs.sh"); }

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

Images::Images(DaemonState& state) : state_(state) {}

base::Result<void> Images::register_builtin() {
    std::string dir = base::find_data_file("templates/recipes");
    LXM_TRY(std::string script, base::wrap(base::read_file(build_script()), "read the rootfs build script"));
    std::vector<std::string> files;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 5 && n.ends_with(".yaml")) files.push_back(dir + "/" + n);
        }
        ::closedir(d);
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        LXM_TRY(std::string text, base::read_file(f));
        Recipe r = parse_recipe(f, text);
        std::string alias = r.get("alias");
        if (alias.empty() || r.get("name").empty()) continue;
        LXM_TRY(std::string fp, sha256_hex(text + script));
        store::ImageRecord rec;
        rec.fingerprint = fp;
        rec.filename = r.get("name") + ".yaml";
        rec.architecture = r.get("architecture") == "amd64" ? "x86_64" : r.get("architecture");
        rec.created_at = rec.uploaded_at = now_ns();
        rec.properties = {{"os", r.get("distro")},
                          {"release", r.get("release")},
                          {"architecture", r.get("architecture")},
                          {"description", r.get("description")},
                          {"recipe", f.substr(f.rfind('/') + 1)}};
        if (!r.get("stop_signal").empty()) rec.properties["stop_signal"] = r.get("stop_signal");
        if (!r.get("init").empty()) rec.properties["init"] = r.get("init");
        LXM_TRY_VOID(state_.store().transaction([&](store::Transaction& tx) -> base::Result<void> {
            auto have = store::get_image(tx, fp);
            if (!have) {
                if (have.error().code != std::errc::no_such_file_or_directory) return std::unexpected(have.error());
                LXM_TRY_VOID(store::create_image(tx, rec));
            }
            auto a = store::get_image_alias(tx, alias);
            if (!a) {
                if (a.error().code != std::errc::no_such_file_or_directory) return std::unexpected(a.error());
                return store::create_image_alias(tx, store::ImageAlias{alias, fp, r.get("description")});
            }
            if (a->fingerprint != fp) {
                a->fingerprint = fp;
                return store::update_image_alias(tx, *a);
            }
            return {};
        }));
        LXM_DEBUG("image {} registered as {}", alias, fp);
    }
    return {};
}

base::Result<store::ImageRecord> Images::resolve(const std::string& alias, const std::string& fingerprint) {
    return state_.store().read([&](store::Transaction& tx) -> base::Result<store::ImageRecord> {
        std::string fp = fingerprint;
        if (fp.empty()) {
            if (alias.empty()) return apitypes::http_error(400, "The image source needs an alias or a fingerprint");
            auto a = store::get_image_alias(tx, alias);
            if (!a) {
                if (a.error().code == std::errc::no_such_file_or_directory)
                    return apitypes::http_error(404, "Image alias \"" + alias.substr(0, 128) + "\" not found");
                return std::unexpected(a.error());
            }
            fp = a->fingerprint;
        }
        auto img = store::find_image(tx, fp);
        if (!img) {
            if (img.error().code == std::errc::no_such_file_or_directory)
                return apitypes::http_error(404, "Image \"" + fp.substr(0, 64) + "\" not found");
            if (img.error().code == std::errc::invalid_argument)
                return apitypes::http_error(400, "Image fingerprint prefix \"" + fp.substr(0, 64) + "\" is ambiguous");
            return std::unexpected(img.error());
        }
        return img;
    });
}

base::Result<void> Images::ensure_in_pool(const store::ImageRecord& image, const Progress& progress,
                                          store::PoolDriver* target) {
    std::shared_ptr<std::mutex> lk;
    {
        std::lock_guard g(mu_);
        auto& p = build_locks_[image.fingerprint];
        if (!p) p = std::make_shared<std::mutex>();
        lk = p;
    }
    std::lock_guard build(*lk);  // one build per image; others wait for it
    auto& pool = target ? *target : state_.pool();
    if (pool.has_image(image.fingerprint)) return {};
    auto it = image.properties.find("recipe");
    if (it == image.properties.end())
        return apitypes::http_error(400, "Image " + image.fingerprint.substr(0, 12) + " has no rootfs in the pool");
    std::string recipe = base::find_data_file("templates/recipes/" + it->second);
    if (progress) progress({{"download_progress", "building image from recipe " + it->second + " (first use)"}});
    LXM_INFO("building image {} from {}", image.fingerprint.substr(0, 12), recipe);
    base::SpawnOptions o;
    o.argv = {"bash", build_script(), recipe};
    o.timeout = std::chrono::minutes(20);
    o.output_limit = 64 * 1024;
    LXM_TRY(base::SpawnResult built, base::wrap(base::spawn_checked(o), "build rootfs from " + it->second));
    std::string out = trim(built.out);
    std::string cached = trim(out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1));
    if (cached.empty() || !base::path_exists(cached))
        return base::make_error(std::errc::io_error, "build-rootfs.sh printed no rootfs path");
    if (progress) progress({{"download_progress", "unpacking image into the storage pool"}});
    LXM_TRY_VOID(pool.ensure_image(image.fingerprint, [&](const std::string& dir) -> base::Result<void> {
        base::SpawnOptions cp;
        cp.argv = {"cp", "-a", "--reflink=auto", cached + "/.", dir + "/"};
        cp.timeout = std::chrono::minutes(20);
        LXM_TRY_VOID(base::spawn_checked(cp));
        return {};
    }));
    return {};
}

}  // namespace lxm::core
