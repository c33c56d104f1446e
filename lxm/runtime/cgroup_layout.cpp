// CgroupLayout: which cgroup filesystems are mounted under the cgroup root.
#include <algorithm>
#include <array>

#include "lxm/base/file.hpp"
#include "lxm/runtime/cgroup.hpp"

namespace lxm::runtime {

namespace {

// The v1 controllers a kernel can have; other super options (rw, xattr, noprefix,
// clone_children, release_agent=...) are not controllers.
constexpr std::array<std::string_view, 14> kV1Controllers = {
    "cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer",
    "net_cls", "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc"};

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    while (true) {
        auto p = s.find(sep);
        out.push_back(s.substr(0, p));
        if (p == std::string_view::npos) break;
        s.remove_prefix(p + 1);
    }
    return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() &&
            std::all_of(s.begin() + i + 1, s.begin() + i + 4, [](char c) { return c >= '0' && c <= '7'; })) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string normalize_root(std::string root) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    return root;
}

}  // namespace

std::string_view to_string(CgroupMode mode) {
    switch (mode) {
        case CgroupMode::v1: return "v1";
        case CgroupMode::hybrid: return "hybrid";
        case CgroupMode::v2: return "v2";
    }
    return "unknown";
}

bool CgroupHierarchy::has(std::string_view controller) const {
    if (controller.starts_with("name=")) return name == controller.substr(5);
    return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

std::string CgroupHierarchy::mount_data() const {
    if (controllers.empty()) return "none,name=" + name;
    std::string out;
    for (const auto& c : controllers) out += (out.empty() ? "" : ",") + c;
    if (!name.empty()) out += ",name=" + name;
    return out;
}

base::Result<CgroupLayout> CgroupLayout::parse(std::string_view mountinfo, std::string root) {
    CgroupLayout layout;
    layout.root = normalize_root(std::move(root));
    for (auto line : split(mountinfo, '\n')) {
        if (line.empty()) continue;
        auto fields = split(line, ' ');
        auto dash = std::find(fields.begin(), fields.end(), "-");
        if (fields.size() < 7 || dash == fields.end() || fields.end() - dash < 4)
            return base::make_error(std::errc::bad_message, "bad mountinfo line: " + std::string(line));
        std::string mount_point = unescape(fields[4]);
        std::string_view fstype = dash[1];
        std::string_view super_opts = dash[3];

        std::string rel;
        if (mount_point == layout.root) {
            // A mount on the root hides everything mounted below it before.
            layout.v1.clear();
            layout.unified_dir.reset();
        } else if (mount_point.starts_with(layout.root + (layout.root == "/" ? "" : "/"))) {
            rel = mount_point.substr(layout.root.size() + (layout.root == "/" ? 0 : 1));
            if (rel.find('/') != std::string::npos) continue;  // not directly under the root
        } else {
            continue;
        }
        // A mount on a directory hides what was mounted there before.
        std::erase_if(layout.v1, [&](const CgroupHierarchy& h) { return h.mount_dir == rel; });
        if (layout.unified_dir == rel) layout.unified_dir.reset();

        if (fstype == "cgroup2") {
            layout.unified_dir = rel;
        } else if (fstype == "cgroup" && !rel.empty()) {
            CgroupHierarchy h;
            h.mount_dir = rel;
            for (auto opt : split(super_opts, ',')) {
                if (opt.starts_with("name=")) h.name = std::string(opt.substr(5));
                else if (std::find(kV1Controllers.begin(), kV1Controllers.end(), opt) != kV1Controllers.end())
                    h.controllers.emplace_back(opt);
            }
            if (h.controllers.empty() && h.name.empty()) continue;
            layout.v1.push_back(std::move(h));
        }
    }
    if (layout.unified_dir && layout.unified_dir->empty()) {
        layout.mode = CgroupMode::v2;
        layout.v1.clear();
    } else if (!layout.v1.empty()) {
        layout.mode = layout.unified_dir ? CgroupMode::hybrid : CgroupMode::v1;
    } else if (layout.unified_dir) {
        // A cgroup2 below the root with no v1 hierarchies beside it: use it as the unified tree.
        layout.mode = CgroupMode::v2;
    } else {
        return base::make_error(std::errc::no_such_device, "no cgroup filesystem is mounted at " + layout.root);
    }
    return layout;
}

base::Result<CgroupLayout> CgroupLayout::detect(std::string root, const std::string& mountinfo_path) {
    LXM_TRY(auto text, base::read_file(mountinfo_path));
    LXM_TRY(auto layout, parse(text, std::move(root)));
    if (layout.unified_dir) {
        auto ctrl = base::read_file(layout.unified_path() + "/cgroup.controllers", 64 * 1024);
        if (!ctrl) return std::unexpected(base::wrap(ctrl.error(), "detect cgroup layout"));
        for (auto c : split(*ctrl, ' ')) {
            while (!c.empty() && (c.back() == '\n' || c.back() == ' ')) c.remove_suffix(1);
            if (!c.empty()) layout.unified_controllers.emplace_back(c);
        }
    }
    return layout;
}

const CgroupHierarchy* CgroupLayout::hierarchy_for(std::string_view controller) const {
    for (const auto& h : v1)
        if (h.has(controller)) return &h;
    return nullptr;
}

std::string CgroupLayout::unified_path() const {
    if (!unified_dir) return {};
    return unified_dir->empty() ? root : root + "/" + *unified_dir;
}

base::Result<std::vector<std::string>> split_cgroup_path(std::string_view path) {
    auto bad = [&](const char* why) {
        return base::make_error(std::errc::invalid_argument, "bad cgroup path '" + std::string(path) + "': " + why);
    };
    if (path.empty()) return bad("empty");
    if (path.front() == '/') return bad("must be relative");
    if (path.find('\n') != std::string_view::npos || path.find('\0') != std::string_view::npos)
        return bad("control characters");
    std::vector<std::string> out;
    for (auto c : split(path, '/')) {
        if (c.empty() || c == "." || c == "..") return bad("empty, '.' or '..' component");
        out.emplace_back(c);
    }
    return out;
}

}  // namespace lxm::runtime
