#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include "lxm/base/defer.hpp"
#include "lxm/base/error.hpp"
#include "lxm/base/file.hpp"

using namespace lxm::base;

namespace {
Result<int> fails() { return errno_error("open /nowhere", ENOENT); }
Result<int> propagates() {
    LXM_TRY(int v, fails());
    return v + 1;
}
}  // namespace

TEST(Error, MessageHasContextAndReason) {
    auto r = propagates();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "open /nowhere: No such file or directory");
    EXPECT_EQ(wrap(r.error(), "start c1").message(), "start c1: open /nowhere: No such file or directory");
}

TEST(Reverter, UndoesInReverseUnlessSuccess) {
    std::string trail;
    {
        Reverter r;
        r.add([&] { trail += "a"; });
        r.add([&] { trail += "b"; });
    }
    EXPECT_EQ(trail, "ba");
    trail.clear();
    {
        Reverter r;
        r.add([&] { trail += "a"; });
        r.success();
    }
    EXPECT_EQ(trail, "");
}

TEST(File, AtomicWriteAndRemoveTree) {
    char tmpl[] = "/tmp/lxmt-base-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    ASSERT_TRUE(mkdir_p(dir + "/a/b/c"));
    ASSERT_TRUE(write_file_atomic(dir + "/a/b/c/f", "hello"));
    EXPECT_EQ(*read_file(dir + "/a/b/c/f"), "hello");
    EXPECT_FALSE(read_file(dir + "/a/b/c/f", 2));  // over the limit
    ASSERT_TRUE(remove_tree(dir));
    EXPECT_FALSE(path_exists(dir));
}
