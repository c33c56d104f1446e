// The e2e tests' cleanup of the shared parent cgroup (tests/support/cgroup_parent.hpp) on the real
// cgroup hierarchies: what it found absent and what was made meanwhile goes, a parent that existed
// before stays, and a busy one (with a child) is left.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/support/cgroup_parent.hpp"
#include "tests/support/test_env.hpp"

namespace lxm::test {
namespace {

bool exists(const std::string& p) {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0;
}

class CgroupParentCleanupTest : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        mounts_ = CgroupParentCleanup::hierarchies();
        if (mounts_.empty()) GTEST_SKIP() << "no cgroup hierarchy mounted";
    }
    void TearDown() override {
        for (const auto& m : mounts_) {
            ::rmdir((m + "/" + name_ + "/child").c_str());
            ::rmdir((m + "/" + name_).c_str());
        }
    }
    std::vector<std::string> mounts_;
    std::string name_ = "lxmt-parent-" + std::to_string(::getpid());
};

TEST_F(CgroupParentCleanupTest, RemovesWhatItFoundAbsent) {
    {
        CgroupParentCleanup guard(name_);
        for (const auto& m : mounts_) ASSERT_EQ(::mkdir((m + "/" + name_).c_str(), 0755), 0) << m;
    }
    for (const auto& m : mounts_) EXPECT_FALSE(exists(m + "/" + name_)) << m;
}

TEST_F(CgroupParentCleanupTest, KeepsAParentThatExistedBefore) {
    const std::string& first = mounts_.front();
    ASSERT_EQ(::mkdir((first + "/" + name_).c_str(), 0755), 0);
    {
        CgroupParentCleanup guard(name_);
        for (size_t i = 1; i < mounts_.size(); ++i) ASSERT_EQ(::mkdir((mounts_[i] + "/" + name_).c_str(), 0755), 0);
    }
    EXPECT_TRUE(exists(first + "/" + name_));
    for (size_t i = 1; i < mounts_.size(); ++i) EXPECT_FALSE(exists(mounts_[i] + "/" + name_)) << mounts_[i];
}

TEST_F(CgroupParentCleanupTest, LeavesABusyParent) {
    const std::string& first = mounts_.front();
    {
        CgroupParentCleanup guard(name_);
        ASSERT_EQ(::mkdir((first + "/" + name_).c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((first + "/" + name_ + "/child").c_str(), 0755), 0);
    }
    EXPECT_TRUE(exists(first + "/" + name_ + "/child"));
}

}  // namespace
}  // namespace lxm::test
