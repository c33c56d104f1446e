#include "tests/support/cgroup_parent.hpp"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace lxm::test {

std::vector<std::string> CgroupParentCleanup::hierarchies() {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        // id parent major:minor root mount-point options ... - fstype source super-options
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream tail(line.substr(dash + 3));
        std::string fstype;
        tail >> fstype;
        if (fstype != "cgroup" && fstype != "cgroup2") continue;
        std::istringstream head(line.substr(0, dash));
        std::string field, mount;
        for (int i = 0; i < 5 && head >> field; ++i)
            if (i == 4) mount = field;
        if (!mount.empty()) out.push_back(mount);
    }
    return out;
}

CgroupParentCleanup::CgroupParentCleanup(const std::string& name) {
    for (const auto& m : hierarchies()) {
        std::string p = m + "/" + name;
        struct stat st{};
        if (::stat(p.c_str(), &st) != 0 && errno == ENOENT) absent_.push_back(p);
    }
}

CgroupParentCleanup::~CgroupParentCleanup() {
    // A parent that still has child cgroups or tasks is busy: it is left (someone else's containers).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    for (const auto& p : absent_) {
        while (::rmdir(p.c_str()) != 0 && errno == EBUSY && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace lxm::test
