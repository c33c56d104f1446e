// copy_fields (lxm/cli/migrate.cpp): the new instance's writable fields that lxm copy/move send,
// as lxc builds them from the source and the user's -c, -p, --no-profiles, -d, -s, -e. No server
// is asked here (a -d naming a device the instance has needs none).
#include <gtest/gtest.h>

#include "lxm/cli/commands.hpp"

namespace lxm::cli {
namespace {

json source_instance() {
    return json{{"name", "c1"},
                {"config",
                 {{"user.note", "hello"},
                  {"limits.memory", "1GiB"},
                  {"volatile.base_image", "abc"},
                  {"volatile.eth0.hwaddr", "00:16:3e:00:00:01"},
                  {"volatile.idmap.base", "1000000"}}},
                {"devices", {{"web", {{"type", "proxy"}, {"listen", "tcp:127.0.0.1:80"}}}}},
                {"profiles", {"default", "web"}},
                {"ephemeral", true},
                {"description", "the source"}};
}

TEST(CliCopyFields, SourceFieldsWithoutVolatileState) {
    Context ctx("/nonexistent.socket");
    auto f = copy_fields(ctx, source_instance(), CopyOverrides{});
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ((*f)["config"], (json{{"user.note", "hello"}, {"limits.memory", "1GiB"}, {"volatile.base_image", "abc"}}));
    EXPECT_EQ((*f)["devices"], source_instance()["devices"]);
    EXPECT_EQ((*f)["profiles"], json({"default", "web"}));
    EXPECT_EQ((*f)["ephemeral"], true);  // nullopt: the source's (move)
    EXPECT_EQ((*f)["description"], "the source");
}

TEST(CliCopyFields, OverridesApplyAsLxcDoes) {
    Context ctx("/nonexistent.socket");
    CopyOverrides o;
    o.config = {"limits.memory=256MiB", "user.x=1"};
    o.profiles = {"default", "other"};
    o.devices = {"web,listen=tcp:127.0.0.1:8080"};
    o.storage = "fast";
    o.ephemeral = false;
    auto f = copy_fields(ctx, source_instance(), o);
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ((*f)["config"]["limits.memory"], "256MiB");
    EXPECT_EQ((*f)["config"]["user.x"], "1");
    EXPECT_EQ((*f)["config"]["user.note"], "hello");
    EXPECT_EQ((*f)["profiles"], json({"default", "other"}));
    EXPECT_EQ((*f)["devices"]["web"]["listen"], "tcp:127.0.0.1:8080");
    EXPECT_EQ((*f)["devices"]["root"], (json{{"type", "disk"}, {"path", "/"}, {"pool", "fast"}}));
    EXPECT_EQ((*f)["ephemeral"], false);

    // -s on an instance with its own root disk: that disk names the pool.
    json src = source_instance();
    src["devices"]["rootfs"] = {{"type", "disk"}, {"path", "/"}, {"pool", "default"}, {"size", "1GiB"}};
    CopyOverrides s;
    s.storage = "fast";
    s.no_profiles = true;
    auto g = copy_fields(ctx, src, s);
    ASSERT_TRUE(g);
    EXPECT_EQ((*g)["devices"]["rootfs"], (json{{"type", "disk"}, {"path", "/"}, {"pool", "fast"}, {"size", "1GiB"}}));
    EXPECT_FALSE((*g)["devices"].contains("root"));
    EXPECT_EQ((*g)["profiles"], json::array());
}

TEST(CliCopyFields, BadOverridesAreUserErrors) {
    Context ctx("/nonexistent.socket");
    for (const char* bad : {"web", "web,listen", ",k=v", "web,=v"}) {
        CopyOverrides o;
        o.devices = {bad};
        auto f = copy_fields(ctx, source_instance(), o);
        ASSERT_FALSE(f) << bad;
        EXPECT_NE(f.error().message().find("expecting <device>,<key>=<value>"), std::string::npos)
            << bad << ": " << f.error().message();
    }
    CopyOverrides c;
    c.config = {"novalue"};
    EXPECT_FALSE(copy_fields(ctx, source_instance(), c));
}

}  // namespace
}  // namespace lxm::cli
