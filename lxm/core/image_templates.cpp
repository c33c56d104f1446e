#include "lxm/core/image_templates.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/safe_path.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::core {

using base::Result;
using base::UniqueFd;

namespace {

constexpr size_t kMaxTemplateBytes = 1 << 20;

bool plain_name(const std::string& n) {
    return !n.empty() && n != "." && n != ".." && n.find('/') == std::string::npos && n.find('\0') == std::string::npos;
}

// "/etc//systemd/./network/x" -> {"etc","systemd","network","x"}; ".." and "/" are refused.
Result<std::vector<std::string>> target_components(const std::string& path) {
    if (path.empty() || path[0] != '/')
        return base::make_error(std::errc::invalid_argument, "template target \"" + path + "\" is not an absolute path");
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= path.size()) {
        size_t next = path.find('/', pos);
        if (next == std::string::npos) next = path.size();
        std::string part = path.substr(pos, next - pos);
        pos = next + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..")
            return base::make_error(std::errc::invalid_argument, "template target \"" + path + "\" contains '..'");
        out.push_back(std::move(part));
    }
    if (out.empty()) return base::make_error(std::errc::invalid_argument, "template target \"/\" is not a file");
    return out;
}

std::string join(const std::vector<std::string>& comps, size_t n) {
    std::string p = "/";
    for (size_t i = 0; i < n; ++i) p += (i ? "/" : "") + comps[i];
    return p;
}

// The parent directory of the target, resolved inside the root (nullopt fd: it does not exist).
Result<UniqueFd> open_parent(const InstanceRoot& root, const std::vector<std::string>& comps) {
    return base::open_in_root(root.root.get(), join(comps, comps.size() - 1), O_PATH | O_DIRECTORY);
}

Result<bool> target_exists(const InstanceRoot& root, const std::vector<std::string>& comps) {
    auto parent = open_parent(root, comps);
    if (!parent) {
        if (parent.error().code == std::errc::no_such_file_or_directory) return false;
        return std::unexpected(parent.error());
    }
    struct stat st {};
    if (::fstatat(parent->get(), comps.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
    if (errno == ENOENT) return false;
    return base::errno_error("stat " + join(comps, comps.size()));
}

// The parent directory of the target, made when missing (owned by the container's root, 0755).
Result<UniqueFd> make_parent(const InstanceRoot& root, const std::vector<std::string>& comps) {
    LXM_TRY(UniqueFd cur, base::open_in_root(root.root.get(), "/", O_PATH | O_DIRECTORY));
    for (size_t i = 1; i < comps.size(); ++i) {
        std::string prefix = join(comps, i);
        auto next = base::open_in_root(root.root.get(), prefix, O_PATH | O_DIRECTORY);
        if (!next && next.error().code == std::errc::no_such_file_or_directory) {
            const char* name = comps[i - 1].c_str();
            // cur is the resolved parent; name has no '/', so nothing here is followed.
            if (::mkdirat(cur.get(), name, 0755) != 0 && errno != EEXIST) return base::errno_error("mkdir " + prefix);
            if (::fchownat(cur.get(), name, root.host_uid(0), root.host_uid(0), AT_SYMLINK_NOFOLLOW) != 0)
                return base::errno_error("chown " + prefix);
            next = base::open_in_root(root.root.get(), prefix, O_PATH | O_DIRECTORY);
        }
        if (!next) return std::unexpected(next.error());
        cur = std::move(*next);
    }
    return cur;
}

Result<void> write_target(const InstanceRoot& root, const std::string& path, const std::vector<std::string>& comps,
                          const std::string& content) {
    LXM_TRY(UniqueFd parent, make_parent(root, comps));
    const std::string& leaf = comps.back();
    uid_t uid = root.host_uid(0);
    gid_t gid = root.host_uid(0);
    mode_t mode = 0644;
    struct stat st {};
    if (::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode))
            return base::make_error(std::errc::is_a_directory, "template target " + path + " is a directory");
        if (S_ISREG(st.st_mode)) {
            uid = st.st_uid;
            gid = st.st_gid;
            mode = st.st_mode & 07777;
        }
    } else if (errno != ENOENT) {
        return base::errno_error("stat " + path);
    }
    std::mt19937_64 rng(std::random_device{}());
    std::string tmp;
    UniqueFd f;
    for (int attempt = 0; attempt < 8 && !f; ++attempt) {
        tmp = ".lxm-template." + std::to_string(rng() % 1000000000ULL);
        f.reset(::openat(parent.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!f && errno != EEXIST) return base::errno_error("create a temporary file beside " + path);
    }
    if (!f) return base::errno_error("create a temporary file beside " + path);
    bool keep = false;
    base::Defer drop([&] {
        if (!keep) ::unlinkat(parent.get(), tmp.c_str(), 0);
    });
    LXM_TRY_VOID(base::wrap(base::write_all(f.get(), content), "write " + path));
    if (::fchown(f.get(), uid, gid) != 0) return base::errno_error("chown " + path);
    if (::fchmod(f.get(), mode) != 0) return base::errno_error("chmod " + path);
    f.reset();
    if (::renameat(parent.get(), tmp.c_str(), parent.get(), leaf.c_str()) != 0)
        return base::errno_error("replace " + path);
    keep = true;
    return {};
}

}  // namespace

bool TemplateSet::has_trigger(std::string_view trigger) const {
    for (const auto& [path, t] : metadata.templates)
        if (std::find(t.when.begin(), t.when.end(), trigger) != t.when.end()) return true;
    return false;
}

Result<TemplateSet> image_template_set(const store::ImageStore& images, const std::string& fingerprint) {
    LXM_TRY(store::StoredImage img, images.get(fingerprint));
    TemplateSet set;
    set.metadata = img.metadata;
    if (set.empty()) return set;
    LXM_TRY(auto files, images.template_files(fingerprint));
    for (const auto& [path, t] : set.metadata.templates) {
        auto it = files.find(t.template_file);
        if (it != files.end()) set.files[t.template_file] = it->second;
    }
    return set;
}

Result<TemplateSet> load_template_set(const std::string& dir) {
    TemplateSet set;
    std::string meta = dir + "/metadata.yaml";
    if (!base::path_exists(meta)) return set;
    LXM_TRY(std::string text, base::read_file(meta, kMaxTemplateBytes));
    LXM_TRY(set.metadata, base::wrap(store::parse_image_metadata(text), meta));
    for (const auto& [path, t] : set.metadata.templates) {
        if (!plain_name(t.template_file) || set.files.count(t.template_file)) continue;
        std::string f = dir + "/templates/" + t.template_file;
        if (!base::path_exists(f)) continue;  // reported when the template is applied
        LXM_TRY(set.files[t.template_file], base::read_file(f, kMaxTemplateBytes));
    }
    return set;
}

Result<void> save_template_set(const std::string& dir, const TemplateSet& set) {
    std::string tdir = dir + "/templates";
    if (base::path_exists(tdir)) LXM_TRY_VOID(base::remove_tree(tdir));
    if (set.empty()) {
        ::unlink((dir + "/metadata.yaml").c_str());
        return {};
    }
    LXM_TRY_VOID(base::mkdir_p(tdir, 0700));
    for (const auto& [name, text] : set.files) {
        if (!plain_name(name))
            return base::make_error(std::errc::invalid_argument, "template file name \"" + name + "\" is not a plain name");
        LXM_TRY_VOID(base::write_file_atomic(tdir + "/" + name, text, 0600));
    }
    return base::write_file_atomic(dir + "/metadata.yaml", store::render_image_metadata(set.metadata), 0600);
}

TemplateContext template_context(const std::string& name, const std::string& architecture, bool privileged,
                                 bool ephemeral, const ConfigMap& expanded_config, const DeviceMap& expanded_devices) {
    TemplateContext c;
    c.instance = {{"name", name},
                  {"type", "container"},
                  {"architecture", architecture.empty() ? "x86_64" : architecture},
                  {"privileged", privileged ? "true" : "false"},
                  {"ephemeral", ephemeral ? "true" : "false"}};
    c.config = expanded_config;
    c.devices = expanded_devices;
    return c;
}

Result<std::vector<std::string>> apply_templates(const InstanceRoot& root, const TemplateSet& set,
                                                 const std::string& trigger, const TemplateContext& ctx) {
    struct Pending {
        std::string path;
        std::vector<std::string> comps;
        std::string content;
    };
    std::vector<Pending> todo;
    for (const auto& [path, t] : set.metadata.templates) {
        if (std::find(t.when.begin(), t.when.end(), trigger) == t.when.end()) continue;
        LXM_TRY(auto comps, target_components(path));
        if (t.create_only) {
            LXM_TRY(bool exists, target_exists(root, comps));
            if (exists) continue;
        }
        auto f = set.files.find(t.template_file);
        if (!plain_name(t.template_file) || f == set.files.end())
            return base::make_error(std::errc::no_such_file_or_directory,
                                    "template file \"" + t.template_file + "\" for " + path + " is missing from the image");
        TemplateContext c = ctx;
        c.trigger = trigger;
        c.path = path;
        c.properties = t.properties;
        LXM_TRY(std::string out, render_template(f->second, c, t.template_file));
        todo.push_back(Pending{path, std::move(comps), std::move(out)});
    }
    std::vector<std::string> written;
    for (const auto& p : todo) {
        LXM_TRY_VOID(base::wrap(write_target(root, p.path, p.comps, p.content), "template " + p.path));
        written.push_back(p.path);
    }
    return written;
}

}  // namespace lxm::core
