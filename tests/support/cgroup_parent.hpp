// The monitors lxmd starts create the shared parent cgroup ("lxm") in every hierarchy on first use
// and leave it there for the next container. A test that caused it to exist removes it again: a
// CgroupParentCleanup notes which hierarchies lack the parent when it is made, and when it goes,
// removes those parents again if they are empty (rmdir only, retried for a few seconds while a
// monitor that is leaving still sits in them). The e2e binary holds one for each test
// (tests/support/env/cgroup_parent_env.cpp).
#pragma once

#include <string>
#include <vector>

namespace lxm::test {

class CgroupParentCleanup {
public:
    explicit CgroupParentCleanup(const std::string& name = "lxm");
    ~CgroupParentCleanup();
    CgroupParentCleanup(const CgroupParentCleanup&) = delete;
    CgroupParentCleanup& operator=(const CgroupParentCleanup&) = delete;

    // Mount points of every cgroup (v1) and cgroup2 hierarchy, from /proc/self/mountinfo.
    static std::vector<std::string> hierarchies();

private:
    std::vector<std::string> absent_;  // <mount>/<name> paths that did not exist at construction
};

}  // namespace lxm::test
