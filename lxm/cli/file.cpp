// file push/pull: GET/POST /1.0/instances/<n>/files?path=<p> with the X-LXD-uid/gid/mode/type
// headers (lxd:client/lxd_instances.go CreateInstanceFile / GetInstanceFile).
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "lxm/cli/commands.hpp"

namespace lxm::cli {

namespace {

struct FileOpts {
    std::vector<std::string> paths;
    int64_t uid = -1;
    int64_t gid = -1;
    std::string mode;
};

// "c1/etc/hosts" → {"c1", "/etc/hosts"}
base::Result<std::pair<std::string, std::string>> split_target(const std::string& s) {
    auto slash = s.find('/');
    if (slash == std::string::npos || slash == 0)
        return user_error("invalid target \"" + s + "\": expected INSTANCE/PATH");
    return std::pair{s.substr(0, slash), s.substr(slash)};
}

std::string basename_of(const std::string& p) {
    auto slash = p.find_last_of('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string files_url(const std::string& inst, const std::string& path) {
    return instance_url(inst) + "/files?path=" + url_escape(path);
}

base::Result<int> push(Context& ctx, const FileOpts& o) {
    if (o.paths.size() < 2) return user_error("usage: lxm file push SOURCE... INSTANCE/PATH");
    LXM_TRY(auto target, split_target(o.paths.back()));
    bool to_dir = target.second.ends_with("/") || o.paths.size() > 2;
    LXM_TRY(auto* c, ctx.client());
    for (size_t i = 0; i + 1 < o.paths.size(); ++i) {
        const auto& src = o.paths[i];
        std::string data;
        unsigned mode = 0644;
        if (src == "-") {
            data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        } else {
            struct stat st{};
            if (::stat(src.c_str(), &st) != 0) return base::errno_error("stat " + src);
            if (!S_ISREG(st.st_mode)) return user_error(src + " is not a regular file (recursive push is not supported)");
            mode = st.st_mode & 07777;
            std::ifstream f(src, std::ios::binary);
            if (!f) return base::errno_error("open " + src);
            std::stringstream ss;
            ss << f.rdbuf();
            data = ss.str();
        }
        std::string dest = target.second;
        if (to_dir) dest = (dest.ends_with("/") ? dest : dest + "/") + basename_of(src == "-" ? "stdin" : src);
        std::map<std::string, std::string> headers = {{"Content-Type", "application/octet-stream"},
                                                      {"X-LXD-type", "file"},
                                                      {"X-LXD-write", "overwrite"}};
        if (!o.mode.empty()) {
            headers["X-LXD-mode"] = o.mode;
        } else {
            char buf[16];
            std::snprintf(buf, sizeof buf, "%04o", mode);
            headers["X-LXD-mode"] = buf;
        }
        if (o.uid >= 0) headers["X-LXD-uid"] = std::to_string(o.uid);
        if (o.gid >= 0) headers["X-LXD-gid"] = std::to_string(o.gid);
        LXM_TRY_VOID(c->raw("POST", files_url(target.first, dest), std::move(data), headers));
    }
    return 0;
}

base::Result<int> pull(Context& ctx, const FileOpts& o) {
    if (o.paths.size() < 2) return user_error("usage: lxm file pull INSTANCE/PATH... DEST");
    const std::string& dest = o.paths.back();
    struct stat dst{};
    bool dest_is_dir = ::stat(dest.c_str(), &dst) == 0 && S_ISDIR(dst.st_mode);
    if (o.paths.size() > 2 && !dest_is_dir && dest != "-") return user_error(dest + " is not a directory");
    LXM_TRY(auto* c, ctx.client());
    for (size_t i = 0; i + 1 < o.paths.size(); ++i) {
        LXM_TRY(auto src, split_target(o.paths[i]));
        LXM_TRY(auto r, c->raw("GET", files_url(src.first, src.second)));
        auto type = r.headers.find("x-lxd-type");
        if (type != r.headers.end() && type->second == "directory")
            return user_error(o.paths[i] + " is a directory (recursive pull is not supported)");
        if (dest == "-") {
            print(ctx.out, r.body);
            continue;
        }
        std::string out = dest_is_dir ? dest + "/" + basename_of(src.second) : dest;
        std::ofstream f(out, std::ios::binary | std::ios::trunc);
        if (!f) return base::errno_error("open " + out);
        f.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
        if (!f) return base::errno_error("write " + out);
        auto mode = r.headers.find("x-lxd-mode");
        if (mode != r.headers.end()) {
            try {
                ::chmod(out.c_str(), static_cast<mode_t>(std::stoul(mode->second, nullptr, 8) & 07777));
            } catch (...) {
            }
        }
    }
    return 0;
}

}  // namespace

void add_file_commands(CLI::App& app, Context& ctx, Action& chosen) {
    auto* file = app.add_subcommand("file", "Transfer files to and from instances");
    file->require_subcommand(1);
    {
        auto o = std::make_shared<FileOpts>();
        auto* sub = file->add_subcommand("push", "Push files: file push SOURCE... INSTANCE/PATH ('-' reads stdin)");
        sub->add_option("paths", o->paths, "Sources and target")->transform(remote_arg(ctx))->required();
        sub->add_option("--uid", o->uid, "File owner uid in the instance");
        sub->add_option("--gid", o->gid, "File group gid in the instance");
        sub->add_option("--mode", o->mode, "File mode in octal (default: the source's)");
        on_run(sub, chosen, [&ctx, o]() { return push(ctx, *o); });
    }
    {
        auto o = std::make_shared<FileOpts>();
        auto* sub = file->add_subcommand("pull", "Pull files: file pull INSTANCE/PATH... DEST ('-' writes stdout)");
        sub->add_option("paths", o->paths, "Sources and target")->transform(remote_arg(ctx))->required();
        on_run(sub, chosen, [&ctx, o]() { return pull(ctx, *o); });
    }
}

}  // namespace lxm::cli
