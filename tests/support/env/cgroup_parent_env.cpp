// Every e2e and compat test removes the parent cgroups its lxmd's monitors created (lxm), and the one
// liblxc parks LXD's container monitors in when they stop (lxc.pivot; see cgroup_parent.hpp).
#include <gtest/gtest.h>

#include <memory>

#include "tests/support/cgroup_parent.hpp"

namespace {

class CgroupParentEnv : public ::testing::Environment {
public:
    void SetUp() override {
        lxm_ = std::make_unique<lxm::test::CgroupParentCleanup>("lxm");
        lxc_pivot_ = std::make_unique<lxm::test::CgroupParentCleanup>("lxc.pivot");
    }
    void TearDown() override {
        lxm_.reset();
        lxc_pivot_.reset();
    }

private:
    std::unique_ptr<lxm::test::CgroupParentCleanup> lxm_, lxc_pivot_;
};

[[maybe_unused]] ::testing::Environment* const g_env = ::testing::AddGlobalTestEnvironment(new CgroupParentEnv);

}  // namespace
