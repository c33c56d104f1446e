// Instances: the image metadata an instance keeps (metadata.yaml and templates/ in its
// instance dir, lxm/core/image_templates.hpp), read and edited as LXD's
// /1.0/instances/<n>/metadata and /metadata/templates routes do.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/file.hpp"
#include "lxm/core/instances.hpp"

namespace lxm::core {

using apitypes::http_error;
using base::Result;

namespace {

constexpr size_t kMetadataLimit = 1 << 20;

// A template file name: a plain name in templates/ (as LXD: no '/').
Result<void> check_template_name(const std::string& file) {
    if (file.empty()) return http_error(400, "Missing path argument");
    if (file == "." || file == ".." || file.find('/') != std::string::npos || file.find('\0') != std::string::npos ||
        file.size() > 255)
        return http_error(400, "Invalid template filename \"" + file.substr(0, 64) + "\"");
    return {};
}

}  // namespace

Result<store::ImageMetadata> Instances::metadata(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    (void)l;
    std::string file = pool_of(name).instance_dir(name) + "/metadata.yaml";
    if (!base::path_exists(file)) return store::ImageMetadata{};
    LXM_TRY(std::string text, base::read_file(file, kMetadataLimit));
    return base::wrap(store::parse_image_metadata(text), "metadata.yaml of " + name);
}

Result<void> Instances::set_metadata(const std::string& name, store::ImageMetadata m) {
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    // What the file needs to be read back (LXD's own images always have both).
    if (m.architecture.empty()) m.architecture = l.rec.architecture.empty() ? "x86_64" : l.rec.architecture;
    if (m.creation_date == 0)
        m.creation_date = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    for (const auto& [path, t] : m.templates) {
        if (path.empty() || path[0] != '/')
            return http_error(400, "Template target \"" + path.substr(0, 64) + "\" is not an absolute path");
        LXM_TRY_VOID(check_template_name(t.template_file));
        for (const auto& w : t.when)
            if (w != "create" && w != "copy" && w != "start" && w != "rename")
                return http_error(400, "Template trigger \"" + w.substr(0, 32) + "\" (create, copy, start, rename)");
    }
    std::string text = store::render_image_metadata(m);
    if (auto back = store::parse_image_metadata(text); !back)
        return http_error(400, "Invalid metadata: " + back.error().message());
    std::string dir = pool_of(name).instance_dir(name);
    return base::wrap(base::write_file_atomic(dir + "/metadata.yaml", text, 0600), "write metadata.yaml");
}

Result<std::vector<std::string>> Instances::template_files(const std::string& name) {
    LXM_TRY(Loaded l, load(name));
    (void)l;
    std::vector<std::string> out;
    std::string dir = pool_of(name).instance_dir(name) + "/templates";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != ".." && e->d_type == DT_REG) out.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::string> Instances::template_file(const std::string& name, const std::string& file) {
    LXM_TRY_VOID(check_template_name(file));
    LXM_TRY(Loaded l, load(name));
    (void)l;
    std::string path = pool_of(name).instance_dir(name) + "/templates/" + file;
    if (!base::path_exists(path)) return http_error(404, "Template \"" + file.substr(0, 64) + "\" not found");
    return base::read_file(path, kMetadataLimit);
}

Result<void> Instances::put_template_file(const std::string& name, const std::string& file, const std::string& text) {
    LXM_TRY_VOID(check_template_name(file));
    if (text.size() > kMetadataLimit) return http_error(413, "Template file too large (1 MiB at most)");
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    (void)l;
    std::string dir = pool_of(name).instance_dir(name) + "/templates";
    LXM_TRY_VOID(base::mkdir_p(dir, 0700));
    return base::write_file_atomic(dir + "/" + file, text, 0600);
}

Result<void> Instances::delete_template_file(const std::string& name, const std::string& file) {
    LXM_TRY_VOID(check_template_name(file));
    auto guard = locks_.lock(name);
    LXM_TRY(Loaded l, load(name));
    (void)l;
    std::string path = pool_of(name).instance_dir(name) + "/templates/" + file;
    if (::unlink(path.c_str()) != 0) {
        if (errno == ENOENT) return http_error(404, "Template \"" + file.substr(0, 64) + "\" not found");
        return base::errno_error("delete template " + file);
    }
    return {};
}

}  // namespace lxm::core
