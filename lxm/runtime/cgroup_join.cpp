#include "lxm/runtime/cgroup_join.hpp"

#include "lxm/base/file.hpp"

namespace lxm::runtime {

std::vector<std::string> cgroup_dirs_of(std::string_view text, const CgroupLayout& layout) {
    std::vector<std::string> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        auto c1 = line.find(':');
        auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string_view::npos) continue;
        std::string_view ctrls = line.substr(c1 + 1, c2 - c1 - 1);
        std::string path(line.substr(c2 + 1));
        if (path.find("..") != std::string::npos) continue;
        if (ctrls.empty()) {
            if (layout.unified_dir) out.push_back(layout.unified_path() + path);
            continue;
        }
        std::string first(ctrls.substr(0, ctrls.find(',')));
        for (const auto& h : layout.v1) {
            if (h.has(first)) {
                out.push_back(layout.root + "/" + h.mount_dir + path);
                break;
            }
        }
    }
    return out;
}

base::Result<void> join_cgroups_of(pid_t target, pid_t pid, const CgroupLayout& layout) {
    LXM_TRY(std::string text, base::read_file("/proc/" + std::to_string(target) + "/cgroup", 64 * 1024));
    auto dirs = cgroup_dirs_of(text, layout);
    if (dirs.empty()) return base::make_error(std::errc::no_such_file_or_directory, "no cgroup of pid " + std::to_string(target));
    for (const auto& d : dirs)
        LXM_TRY_VOID(base::write_file(d + "/cgroup.procs", std::to_string(pid) + "\n"));
    return {};
}

}  // namespace lxm::runtime
