// lxm image list/info/delete/import/export/build, lxm image alias list/create/delete/rename,
// and lxm publish (an instance or snapshot into an image).
//
//   import FILE [ROOTFS]: a unified tarball is sent as the raw body, a split pair as
//     multipart/form-data (parts "metadata" and "rootfs"), both streamed from disk.
//   export IMG [TARGET]: a unified image to TARGET (a file, or a directory where it gets
//     its own name); a split image as two files (TARGET and TARGET.root, or its names
//     inside a directory), streamed to disk and checked against the fingerprint.
//   build RECIPE.yaml: the recipe text and its templates directory (RECIPE/ beside it)
//     go to lxmd, which builds the rootfs and imports the image.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <openssl/evp.h>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/multipart.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/unique_fd.hpp"
#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"

namespace lxm::cli {

namespace {

std::string upload_date(const json& t) {
    if (!t.is_string() || t.get<std::string>().size() < 16) return "";
    std::string s = t.get<std::string>();
    std::string d = s.substr(0, 10);
    std::replace(d.begin(), d.end(), '-', '/');
    return d + " " + s.substr(11, 5) + " UTC";
}

std::string upper(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
}

bool is_dir(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// An alias or a fingerprint (prefix) → the image's full fingerprint.
base::Result<std::string> resolve_image(Context& ctx, const std::string& name) {
    LXM_TRY(auto* c, ctx.client());
    auto a = c->get("/1.0/images/aliases/" + url_escape(name));
    if (a && a->is_object()) return a->value("target", "");
    auto img = c->get("/1.0/images/" + url_escape(name));
    if (!img) {
        if (apitypes::http_status_of(img.error()) == 404) return user_error("Image \"" + name + "\" not found");
        return std::unexpected(img.error());
    }
    return img->value("fingerprint", "");
}

// Wait for an image operation (already final for uploads) and return its metadata.
base::Result<json> op_result(Context& ctx, const client::Response& r) {
    if (r.type == "async" && r.metadata.is_object() && r.metadata.value("status_code", 0) == 200)
        return r.metadata.value("metadata", json::object());
    LXM_TRY(auto op, ctx.wait(r));
    return op.metadata;
}

base::Result<void> add_aliases(Context& ctx, const std::string& fp, const std::vector<std::string>& aliases) {
    LXM_TRY(auto* c, ctx.client());
    for (const auto& a : aliases) LXM_TRY_VOID(c->post("/1.0/images/aliases", json{{"name", a}, {"target", fp}}));
    return {};
}

class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
    ~Sha256() { EVP_MD_CTX_free(ctx_); }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(std::string_view d) { EVP_DigestUpdate(ctx_, d.data(), d.size()); }
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx_, md, &len);
        static const char* digits = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < len; ++i) {
            out += digits[md[i] >> 4];
            out += digits[md[i] & 15];
        }
        return out;
    }

private:
    EVP_MD_CTX* ctx_;
};

// A file written under a temp name and renamed into place by commit().
class OutFile {
public:
    static base::Result<OutFile> create(const std::string& path) {
        OutFile f;
        f.path_ = path;
        f.tmp_ = path + ".partial";
        int fd = ::open(f.tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return base::errno_error("create " + f.tmp_);
        f.fd_.reset(fd);
        return f;
    }
    OutFile() = default;
    OutFile(OutFile&& o) noexcept : path_(std::move(o.path_)), tmp_(std::exchange(o.tmp_, {})), fd_(std::move(o.fd_)) {}
    OutFile& operator=(OutFile&&) = delete;
    ~OutFile() {
        if (!tmp_.empty()) ::unlink(tmp_.c_str());
    }
    int fd() const { return fd_.get(); }
    base::Result<void> commit() {
        fd_.reset();
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) return base::errno_error("rename " + tmp_);
        tmp_.clear();
        return {};
    }

private:
    std::string path_, tmp_;
    base::UniqueFd fd_;
};

std::string safe_name(std::string n, const std::string& fallback) {
    if (n.find('/') != std::string::npos) n = n.substr(n.rfind('/') + 1);
    if (n.empty() || n == "." || n == "..") return fallback;
    return n;
}

base::Result<int> do_export(Context& ctx, const std::string& image, const std::string& target_arg) {
    LXM_TRY(std::string fp, resolve_image(ctx, image));
    LXM_TRY(auto* c, ctx.client());
    std::string target = target_arg.empty() ? "." : target_arg;
    Sha256 hash;
    std::optional<OutFile> out1, out2;
    std::optional<apitypes::MultipartReader> mp;
    std::vector<std::string> written;
    int current = -1;
    bool started = false;  // headers seen: writers set up
    auto start = [&](const std::map<std::string, std::string>& headers) -> base::Result<void> {
        started = true;
        auto ct = headers.count("content-type") ? headers.at("content-type") : "";
        if (auto b = apitypes::multipart_boundary(ct)) {
            apitypes::MultipartReader::Handler h;
            h.begin = [&, dir = is_dir(target)](const apitypes::MultipartPart& p) -> base::Result<void> {
                std::string path;
                if (p.name == "metadata") path = dir ? target + "/" + safe_name(p.filename, "meta-" + fp + ".tar.xz") : target;
                else if (p.name == "rootfs")
                    path = dir ? target + "/" + safe_name(p.filename, fp + ".root") : target + ".root";
                else return user_error("unexpected part \"" + p.name + "\" in the export");
                auto& slot = p.name == "metadata" ? out1 : out2;
                LXM_TRY(auto f, OutFile::create(path));
                slot.emplace(std::move(f));
                current = slot->fd();
                written.push_back(path);
                return {};
            };
            h.data = [&](std::string_view d) -> base::Result<void> {
                hash.update(d);
                return base::write_all(current, d);
            };
            h.end = [&]() -> base::Result<void> { return {}; };
            mp.emplace(*b, h);
            return {};
        }
        std::string name = fp + ".tar.gz";
        if (auto cd = headers.find("content-disposition"); cd != headers.end()) {
            auto pos = cd->second.find("filename=");
            if (pos != std::string::npos) {
                std::string n = cd->second.substr(pos + 9);
                if (!n.empty() && n.front() == '"') n = n.substr(1, n.find('"', 1) - 1);
                name = safe_name(n, name);
            }
        }
        std::string path = is_dir(target) ? target + "/" + name : target;
        LXM_TRY(auto f, OutFile::create(path));
        out1.emplace(std::move(f));
        written.push_back(path);
        return {};
    };
    LXM_TRY(auto r, c->download("/1.0/images/" + fp + "/export", [&](std::string_view chunk) -> base::Result<void> {
        if (!started) return user_error("internal: export headers not seen");
        if (mp) return mp->feed(chunk);
        hash.update(chunk);
        return base::write_all(out1->fd(), chunk);
    }, start));
    (void)r;
    if (!started) LXM_TRY_VOID(start({}));
    if (mp) LXM_TRY_VOID(mp->finish());
    std::string got = hash.hex();
    if (got != fp) return user_error("export of " + fp + " has fingerprint " + got + ": not written");
    if (out1) LXM_TRY_VOID(out1->commit());
    if (out2) LXM_TRY_VOID(out2->commit());
    std::string list;
    for (const auto& w : written) list += (list.empty() ? "" : " and ") + w;
    print(ctx.out, "Image exported successfully to " + list + "\n");
    return 0;
}

base::Result<int> do_import(Context& ctx, const std::vector<std::string>& files, const std::vector<std::string>& aliases,
                            bool is_public) {
    LXM_TRY(auto* c, ctx.client());
    std::map<std::string, std::string> headers;
    std::vector<client::Client::BodyPart> parts;
    for (const auto& f : files)
        if (::access(f.c_str(), R_OK) != 0) return user_error("cannot read " + f + ": " + std::strerror(errno));
    if (files.size() == 1) {
        headers["Content-Type"] = "application/octet-stream";
        parts.push_back({.data = "", .file = files[0]});
        headers["X-LXD-filename"] = safe_name(files[0], "image.tar.gz");
    } else {
        std::string b = apitypes::make_boundary();
        headers["Content-Type"] = "multipart/form-data; boundary=" + b;
        parts.push_back({.data = apitypes::multipart_part_header(b, "metadata", safe_name(files[0], "meta"), true), .file = ""});
        parts.push_back({.data = "", .file = files[0]});
        parts.push_back({.data = apitypes::multipart_part_header(b, "rootfs", safe_name(files[1], "rootfs"), false), .file = ""});
        parts.push_back({.data = "", .file = files[1]});
        parts.push_back({.data = apitypes::multipart_trailer(b), .file = ""});
        headers["X-LXD-filename"] = safe_name(files[1], "image.tar.gz");
    }
    if (is_public) headers["X-LXD-public"] = "true";
    LXM_TRY(auto r, c->upload("POST", "/1.0/images", parts, headers));
    LXM_TRY(json md, op_result(ctx, r));
    std::string fp = md.value("fingerprint", "");
    if (fp.empty()) return user_error("the server did not report the new image's fingerprint");
    LXM_TRY_VOID(add_aliases(ctx, fp, aliases));
    print(ctx.out, "Image imported with fingerprint: " + fp + "\n");
    return 0;
}

base::Result<int> do_build(Context& ctx, const std::string& recipe, const std::vector<std::string>& aliases) {
    LXM_TRY(auto* c, ctx.client());
    auto text = base::read_file(recipe, 1 << 20);
    if (!text) return user_error("cannot read " + recipe + ": " + text.error().code.message());
    json templates = json::object();
    std::string dir = recipe.ends_with(".yaml") ? recipe.substr(0, recipe.size() - 5) : recipe + ".d";
    if (DIR* d = ::opendir(dir.c_str())) {
        std::vector<std::string> names;
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") names.push_back(n);
        }
        ::closedir(d);
        for (const auto& n : names) {
            if (is_dir(dir + "/" + n)) continue;
            LXM_TRY(templates[n], base::read_file(dir + "/" + n, 1 << 20));
        }
    }
    json aliases_json = json::array();
    for (const auto& a : aliases) aliases_json.push_back({{"name", a}});
    json body{{"source", {{"type", "recipe"}, {"recipe", *text}, {"templates", templates}}}, {"aliases", aliases_json}};
    LXM_TRY(auto r, c->post("/1.0/images", body));
    LXM_TRY(json md, op_result(ctx, r));
    print(ctx.out, "Image built with fingerprint: " + md.value("fingerprint", "") + "\n");
    return 0;
}

}  // namespace

void add_image_commands(CLI::App& app, Context& ctx, Action& chosen) {
    auto* image = app.add_subcommand("image", "Manage images");
    image->require_subcommand(1);
    auto format = std::make_shared<std::string>("table");
    auto* list = image->add_subcommand("list", "List images");
    list->alias("ls");
    list->add_option("-f,--format", *format, "table, csv, json, yaml")
        ->check(CLI::IsMember({"table", "csv", "json", "yaml"}));
    on_run(list, chosen, [&ctx, format]() -> base::Result<int> {
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY(auto images, c->get("/1.0/images?recursion=1"));
        std::vector<Row> rows;
        for (auto& img : images) {
            std::string aliases;
            for (auto& a : img.value("aliases", json::array()))
                aliases += (aliases.empty() ? "" : "\n") + a.value("name", "");
            std::string desc = img.contains("properties") && img["properties"].is_object()
                                   ? img["properties"].value("description", "")
                                   : "";
            rows.push_back({aliases, img.value("fingerprint", "").substr(0, 12), img.value("public", false) ? "yes" : "no",
                            desc, img.value("architecture", ""), upper(img.value("type", "container")),
                            format_size(img.value("size", int64_t{0})), upload_date(img.value("uploaded_at", json()))});
        }
        print(ctx.out, render_listing(images, *format,
                                      {"ALIAS", "FINGERPRINT", "PUBLIC", "DESCRIPTION", "ARCHITECTURE", "TYPE", "SIZE",
                                       "UPLOAD DATE"},
                                      std::move(rows)));
        return 0;
    });

    auto info_img = std::make_shared<std::string>();
    auto* info = image->add_subcommand("info", "Show an image (alias or fingerprint)");
    info->add_option("image", *info_img)->required();
    on_run(info, chosen, [&ctx, info_img]() -> base::Result<int> {
        LXM_TRY(std::string fp, resolve_image(ctx, *info_img));
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY(auto img, c->get("/1.0/images/" + fp));
        std::string s = "Fingerprint: " + img.value("fingerprint", "") + "\n";
        s += "Size: " + format_size(img.value("size", int64_t{0})) + "\n";
        s += "Architecture: " + img.value("architecture", "") + "\n";
        s += "Type: " + img.value("type", "container") + "\n";
        s += "Public: " + std::string(img.value("public", false) ? "yes" : "no") + "\n";
        s += "Timestamps:\n    Created: " + upload_date(img.value("created_at", json())) +
             "\n    Uploaded: " + upload_date(img.value("uploaded_at", json())) + "\n";
        s += "Properties:\n";
        // Named copies: items() of a temporary would dangle.
        const json props = img.value("properties", json::object());
        for (auto& [k, v] : props.items())
            s += "    " + k + ": " + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
        s += "Aliases:\n";
        const json aliases = img.value("aliases", json::array());
        for (auto& a : aliases) s += "    - " + a.value("name", "") + "\n";
        print(ctx.out, s);
        return 0;
    });

    auto del_imgs = std::make_shared<std::vector<std::string>>();
    auto* del = image->add_subcommand("delete", "Delete images");
    del->alias("rm");
    del->add_option("images", *del_imgs)->required();
    on_run(del, chosen, [&ctx, del_imgs]() -> base::Result<int> {
        for (const auto& i : *del_imgs) {
            LXM_TRY(std::string fp, resolve_image(ctx, i));
            LXM_TRY_VOID(ctx.run("DELETE", "/1.0/images/" + fp));
        }
        return 0;
    });

    struct ImportOpts {
        std::vector<std::string> files, aliases;
        bool is_public = false;
    };
    auto io = std::make_shared<ImportOpts>();
    auto* imp = image->add_subcommand("import", "Import an image: a unified tarball, or metadata and rootfs files");
    imp->add_option("files", io->files, "TARBALL, or METADATA ROOTFS")->required()->expected(1, 2);
    imp->add_option("--alias", io->aliases, "Alias of the new image (repeatable)")->allow_extra_args(false);
    imp->add_flag("--public", io->is_public, "Make the image public");
    on_run(imp, chosen, [&ctx, io]() { return do_import(ctx, io->files, io->aliases, io->is_public); });

    auto ex = std::make_shared<std::pair<std::string, std::string>>();
    auto* exp = image->add_subcommand("export", "Export an image to files");
    exp->add_option("image", ex->first, "Alias or fingerprint")->required();
    exp->add_option("target", ex->second, "File or directory (default: the current directory)");
    on_run(exp, chosen, [&ctx, ex]() { return do_export(ctx, ex->first, ex->second); });

    auto bo = std::make_shared<std::pair<std::string, std::vector<std::string>>>();
    auto* bld = image->add_subcommand("build", "Build an image from a recipe (templates/recipes/*.yaml) and import it");
    bld->add_option("recipe", bo->first)->required();
    bld->add_option("--alias", bo->second, "Alias of the new image besides the recipe's own (repeatable)")->allow_extra_args(false);
    on_run(bld, chosen, [&ctx, bo]() { return do_build(ctx, bo->first, bo->second); });

    auto* alias = image->add_subcommand("alias", "Image aliases");
    alias->require_subcommand(1);
    auto* alist = alias->add_subcommand("list", "List image aliases");
    alist->alias("ls");
    on_run(alist, chosen, [&ctx]() -> base::Result<int> {
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY(auto aliases, c->get("/1.0/images/aliases?recursion=1"));
        std::vector<Row> rows;
        for (auto& a : aliases)
            rows.push_back({a.value("name", ""), a.value("target", "").substr(0, 12), upper(a.value("type", "container")),
                            a.value("description", "")});
        std::sort(rows.begin(), rows.end());
        print(ctx.out, render_table({"ALIAS", "FINGERPRINT", "TYPE", "DESCRIPTION"}, rows));
        return 0;
    });
    struct AliasOpts {
        std::string name, target, description, new_name;
    };
    auto ao = std::make_shared<AliasOpts>();
    auto* acreate = alias->add_subcommand("create", "Create an alias of an image");
    acreate->add_option("alias", ao->name)->required();
    acreate->add_option("image", ao->target, "Fingerprint (or prefix) or another alias")->required();
    acreate->add_option("--description", ao->description);
    on_run(acreate, chosen, [&ctx, ao]() -> base::Result<int> {
        LXM_TRY(std::string fp, resolve_image(ctx, ao->target));
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY_VOID(c->post("/1.0/images/aliases",
                             json{{"name", ao->name}, {"target", fp}, {"description", ao->description}}));
        return 0;
    });
    auto* adelete = alias->add_subcommand("delete", "Delete an alias");
    adelete->alias("rm");
    adelete->add_option("alias", ao->name)->required();
    on_run(adelete, chosen, [&ctx, ao]() -> base::Result<int> {
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY_VOID(c->del("/1.0/images/aliases/" + url_escape(ao->name)));
        return 0;
    });
    auto* arename = alias->add_subcommand("rename", "Rename an alias");
    arename->add_option("alias", ao->name)->required();
    arename->add_option("new-name", ao->new_name)->required();
    on_run(arename, chosen, [&ctx, ao]() -> base::Result<int> {
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY_VOID(c->post("/1.0/images/aliases/" + url_escape(ao->name), json{{"name", ao->new_name}}));
        return 0;
    });

    // lxm publish c1[/snap] [--alias x] [--public] [property=value...]
    struct PublishOpts {
        std::string source;
        std::vector<std::string> aliases, props;
        bool is_public = false;
    };
    auto po = std::make_shared<PublishOpts>();
    auto* pub = app.add_subcommand("publish", "Make an image of a stopped instance or of a snapshot (c1/snap)");
    pub->add_option("source", po->source, "INSTANCE or INSTANCE/SNAPSHOT")->required();
    pub->add_option("properties", po->props, "Image properties (key=value)");
    pub->add_option("--alias", po->aliases, "Alias of the new image (repeatable)")->allow_extra_args(false);
    pub->add_flag("--public", po->is_public, "Make the image public");
    on_run(pub, chosen, [&ctx, po]() -> base::Result<int> {
        LXM_TRY(json props, key_values(po->props));
        json aliases = json::array();
        for (const auto& a : po->aliases) aliases.push_back({{"name", a}});
        bool snap = po->source.find('/') != std::string::npos;
        json body{{"source", {{"type", snap ? "snapshot" : "instance"}, {"name", po->source}}},
                  {"aliases", aliases},
                  {"properties", props},
                  {"public", po->is_public}};
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY(auto r, c->post("/1.0/images", body));
        LXM_TRY(json md, op_result(ctx, r));
        print(ctx.out, "Instance published with fingerprint: " + md.value("fingerprint", "") + "\n");
        return 0;
    });
}

}  // namespace lxm::cli
