#include "lxm/runtime/apparmor.hpp"

#include <fcntl.h>
#include <sys/apparmor.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lxm/base/data_dir.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"

namespace lxm::runtime {

using base::errno_error;
using base::make_error;
using base::Result;

namespace {

constexpr const char* kRemovePath = "/sys/kernel/security/apparmor/.remove";
constexpr auto kParserTimeout = std::chrono::seconds(120);

// Profile and container names go into the profile text between quotes and into
// securityfs writes: keep them to a plain alphabet.
bool safe_name(std::string_view n) {
    if (n.empty() || n.size() > 200) return false;
    if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= '0' && n[0] <= '9')))
        return false;
    for (char c : n) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

base::Unexpected tmpl_error(const std::string& what) {
    return make_error(std::errc::invalid_argument, "apparmor template: " + what);
}

struct Section {
    std::string name;
    bool active;  // this section's own condition
};

class Renderer {
public:
    Renderer(const ApparmorParams& p, std::string profile_name) : p_(p), profile_name_(std::move(profile_name)) {}

    Result<std::string> run(std::string_view text) {
        size_t line_no = 0;
        while (!text.empty()) {
            ++line_no;
            size_t nl = text.find('\n');
            std::string_view line = nl == std::string_view::npos ? text : text.substr(0, nl + 1);
            text.remove_prefix(line.size());
            LXM_TRY_VOID(line_(line, line_no));
        }
        if (!stack_.empty()) return tmpl_error("section '" + stack_.back().name + "' is not closed");
        return std::move(out_);
    }

private:
    bool emitting() const {
        for (const auto& s : stack_)
            if (!s.active) return false;
        return true;
    }

    Result<bool> flag(const std::string& name) const {
        if (name == "privileged") return p_.privileged;
        if (name == "unprivileged") return !p_.privileged;
        if (name == "nesting") return p_.nesting;
        if (name == "userns") return p_.userns;
        if (name == "binfmt") return p_.binfmt;
        if (name == "raw") return !p_.raw.empty();
        return tmpl_error("unknown flag '" + name + "'");
    }

    Result<std::string> value(const std::string& name) const {
        if (name == "name") return profile_name_;
        if (name == "container") return p_.container_name;
        if (name == "raw") return p_.raw;
        return tmpl_error("unknown placeholder '" + name + "'");
    }

    Result<void> tag_(std::string_view tag, size_t line_no) {
        auto where = [&] { return " (line " + std::to_string(line_no) + ")"; };
        if (tag.empty()) return tmpl_error("empty tag" + where());
        char kind = tag[0];
        if (kind == '#' || kind == '^') {
            std::string name(tag.substr(1));
            auto f = flag(name);
            if (!f) return std::unexpected(base::wrap(f.error(), "line " + std::to_string(line_no)));
            stack_.push_back({name, kind == '#' ? *f : !*f});
            return {};
        }
        if (kind == '/') {
            std::string name(tag.substr(1));
            if (stack_.empty() || stack_.back().name != name)
                return tmpl_error("unexpected close of '" + name + "'" + where());
            stack_.pop_back();
            return {};
        }
        auto v = value(std::string(tag));
        if (!v) return std::unexpected(base::wrap(v.error(), "line " + std::to_string(line_no)));
        if (emitting()) out_ += *v;
        return {};
    }

    Result<void> line_(std::string_view line, size_t line_no) {
        // A line holding only a section tag leaves no trace in the output.
        std::string_view trimmed = line;
        while (!trimmed.empty() && std::strchr(" \t\r\n", trimmed.front())) trimmed.remove_prefix(1);
        while (!trimmed.empty() && std::strchr(" \t\r\n", trimmed.back())) trimmed.remove_suffix(1);
        if (trimmed.starts_with("{{") && trimmed.ends_with("}}") && trimmed.size() > 4 &&
            std::strchr("#^/", trimmed[2]) && trimmed.find("{{", 2) == std::string_view::npos) {
            return tag_(trimmed.substr(2, trimmed.size() - 4), line_no);
        }
        while (!line.empty()) {
            size_t open = line.find("{{");
            if (open == std::string_view::npos) {
                if (emitting()) out_ += line;
                break;
            }
            if (emitting()) out_ += line.substr(0, open);
            size_t close = line.find("}}", open + 2);
            if (close == std::string_view::npos)
                return tmpl_error("unterminated '{{' on line " + std::to_string(line_no));
            LXM_TRY_VOID(tag_(line.substr(open + 2, close - open - 2), line_no));
            line.remove_prefix(close + 2);
        }
        return {};
    }

    const ApparmorParams& p_;
    std::string profile_name_;
    std::vector<Section> stack_;
    std::string out_;
};

bool executable(const std::string& p) { return !p.empty() && ::access(p.c_str(), X_OK) == 0; }

Result<std::string> parser_or_error() {
    std::string p = apparmor_parser_path();
    if (p.empty()) return make_error(std::errc::no_such_file_or_directory, "apparmor_parser is not installed");
    return p;
}

Result<void> run_parser(std::vector<std::string> args, const std::string& profile_text) {
    base::SpawnOptions o;
    o.argv = std::move(args);
    o.stdin_data = profile_text;
    o.timeout = kParserTimeout;
    LXM_TRY_VOID(base::spawn_checked(o));
    return {};
}

}  // namespace

std::string apparmor_profile_name(std::string_view container_name) {
    return "lxm-" + std::string(container_name);
}

std::string default_apparmor_template_path() {
    return base::find_data_file("templates/apparmor/container.profile");
}

bool apparmor_enabled() { return aa_is_enabled() == 1; }

std::string apparmor_unavailable_reason() {
    if (aa_is_enabled() != 1) {
        switch (errno) {
            case ENOSYS: return "AppArmor is not enabled in this kernel";
            case ECANCELED: return "AppArmor is built into this kernel but disabled at boot";
            case ENOENT: return "AppArmor is enabled but its interface (securityfs) is not mounted";
            case EPERM:
            case EACCES: return "no permission to query the AppArmor state";
            case EBUSY: return "AppArmor policy is not accessible here (confined by a parent without stacking)";
            default: return std::string("AppArmor is unavailable: ") + std::strerror(errno);
        }
    }
    if (apparmor_parser_path().empty()) return "apparmor_parser is not installed";
    return {};
}

std::string apparmor_parser_path() {
    if (const char* env = std::getenv("LXM_APPARMOR_PARSER"); env && *env) return executable(env) ? env : "";
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH")) {
        std::string_view rest = path;
        while (!rest.empty()) {
            size_t colon = rest.find(':');
            std::string_view d = rest.substr(0, colon);
            if (!d.empty()) dirs.emplace_back(d);
            if (colon == std::string_view::npos) break;
            rest.remove_prefix(colon + 1);
        }
    }
    dirs.emplace_back("/usr/sbin");
    dirs.emplace_back("/sbin");
    for (const auto& d : dirs) {
        std::string p = d + "/apparmor_parser";
        if (executable(p)) return p;
    }
    return {};
}

Result<std::string> render_apparmor_profile(std::string_view template_text, const ApparmorParams& params) {
    if (!safe_name(params.container_name))
        return make_error(std::errc::invalid_argument,
                          "apparmor profile: invalid container name '" + params.container_name + "'");
    std::string profile_name =
        params.profile_name.empty() ? apparmor_profile_name(params.container_name) : params.profile_name;
    if (!safe_name(profile_name))
        return make_error(std::errc::invalid_argument, "apparmor profile: invalid profile name '" + profile_name + "'");
    if (params.raw.find('\0') != std::string::npos)
        return make_error(std::errc::invalid_argument, "apparmor profile: raw rules contain a NUL byte");
    Renderer r(params, std::move(profile_name));
    return r.run(template_text);
}

Result<void> compile_apparmor_profile(const std::string& profile_text, bool skip_kernel_load) {
    if (!skip_kernel_load) return load_apparmor_profile(profile_text);
    LXM_TRY(std::string parser, parser_or_error());
    return base::wrap(run_parser({parser, "--skip-kernel-load", "--skip-cache"}, profile_text),
                      "compile apparmor profile");
}

Result<void> load_apparmor_profile(const std::string& profile_text, const std::string& cache_dir) {
    LXM_TRY(std::string parser, parser_or_error());
    std::vector<std::string> args{parser, "--replace"};
    if (cache_dir.empty()) {
        args.emplace_back("--skip-cache");
    } else {
        LXM_TRY_VOID(base::mkdir_p(cache_dir, 0700));
        args.insert(args.end(), {"--write-cache", "--cache-loc", cache_dir});
    }
    return base::wrap(run_parser(std::move(args), profile_text), "load apparmor profile");
}

Result<void> unload_apparmor_profile(const std::string& profile_name) {
    if (!safe_name(profile_name))
        return make_error(std::errc::invalid_argument, "unload apparmor profile: invalid name '" + profile_name + "'");
    base::UniqueFd fd(::open(kRemovePath, O_WRONLY | O_CLOEXEC));
    if (!fd) {
        int err = errno;
        // No AppArmor, so nothing can be loaded.
        if (err == ENOENT && !apparmor_enabled()) return {};
        return errno_error(std::string("unload apparmor profile ") + profile_name + ": open " + kRemovePath, err);
    }
    ssize_t n = ::write(fd.get(), profile_name.data(), profile_name.size());
    if (n < 0 && errno == ENOENT) return {};  // not loaded
    if (n < 0) return errno_error("unload apparmor profile " + profile_name);
    return {};
}

Result<void> apparmor_change_onexec(const std::string& profile_name) {
    if (aa_change_onexec(profile_name.c_str()) < 0)
        return errno_error("aa_change_onexec " + profile_name);
    return {};
}

}  // namespace lxm::runtime
