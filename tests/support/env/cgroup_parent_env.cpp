// Every e2e test removes the parent cgroups its lxmd's monitors created (see cgroup_parent.hpp).
#include <gtest/gtest.h>

#include <memory>

#include "tests/support/cgroup_parent.hpp"

namespace {

class CgroupParentEnv : public ::testing::Environment {
public:
    void SetUp() override { guard_ = std::make_unique<lxm::test::CgroupParentCleanup>(); }
    void TearDown() override { guard_.reset(); }

private:
    std::unique_ptr<lxm::test::CgroupParentCleanup> guard_;
};

[[maybe_unused]] ::testing::Environment* const g_env = ::testing::AddGlobalTestEnvironment(new CgroupParentEnv);

}  // namespace
