// Instance backup files and recovery of lost rows from them.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "lxm/base/file.hpp"
#include "store/backup_file.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::store;

// Records are built with designated initializers that leave defaulted members out on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

std::unique_ptr<SqliteStore> open_mem() {
    auto s = SqliteStore::open(":memory:");
    EXPECT_TRUE(s) << s.error().message();
    return std::move(*s);
}

InstanceBackup make_backup(const std::string& name) {
    InstanceBackup b;
    b.instance.name = name;
    b.instance.architecture = "x86_64";
    b.instance.status_wanted = "running";
    b.instance.created_at = 123;
    b.instance.idmap_base = 1'000'000;
    b.instance.idmap_size = 65536;
    b.instance.config = {{"limits.cpu", "1"}};
    b.instance.devices = {{"root", {{"type", "disk"}, {"path", "/"}}}};
    b.instance.profiles = {"default", "web"};
    b.snapshots.push_back(SnapshotRecord{.name = "snap0", .created_at = 5, .expires_at = 99, .config = {{"a", "b"}}});
    b.profiles.push_back(ProfileRecord{.name = "default", .description = "Default lxm profile"});
    b.profiles.push_back(ProfileRecord{.name = "web", .config = {{"limits.memory", "1GiB"}}});
    return b;
}

}  // namespace

TEST(StoreBackup, JsonRoundTrip) {
    auto b = make_backup("c1");
    auto j = backup_to_json(b);
    EXPECT_EQ(j["format"], kBackupFormat);
    EXPECT_FALSE(j["instance"].contains("id"));
    auto back = backup_from_json(j);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, b);

    EXPECT_FALSE(backup_from_json(nlohmann::json{{"format", 1}, {"instance", {{"name", 3}}}}));
    auto newer = backup_from_json(nlohmann::json{{"format", 99}});
    ASSERT_FALSE(newer);
    EXPECT_EQ(newer.error().code, std::errc::not_supported);
}

TEST(StoreBackup, CollectWriteReadFile) {
    lxm::test::TempDir dir("store");
    auto store = open_mem();
    auto b = make_backup("c1");
    ASSERT_TRUE(store->transaction([&](Transaction& tx) -> Result<void> {
        LXM_TRY_VOID(create_profile(tx, b.profiles[1]));
        LXM_TRY_VOID(create_instance(tx, b.instance));
        LXM_TRY_VOID(create_snapshot(tx, "default", "c1", b.snapshots[0]));
        return {};
    }));
    auto collected = store->read([](Transaction& tx) { return collect_instance_backup(tx, "default", "c1"); });
    ASSERT_TRUE(collected) << collected.error().message();
    EXPECT_EQ(*collected, b);

    std::string path = dir / std::string(kBackupFileName);
    ASSERT_TRUE(write_backup_file(path, *collected));
    struct stat sb {};
    ASSERT_EQ(::stat(path.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 0777, 0600u);
    auto read = read_backup_file(path);
    ASSERT_TRUE(read) << read.error().message();
    EXPECT_EQ(*read, b);

    ASSERT_TRUE(lxm::base::write_file(dir / "bad.json", "{not json", true));
    EXPECT_FALSE(read_backup_file(dir / "bad.json"));
}

TEST(StoreBackup, RecoverInsertsOnlyMissingInstances) {
    lxm::test::TempDir dir("store");
    auto store = open_mem();
    // c1 is in the database; c2 and c3 were lost; one backup file is corrupt.
    auto b1 = make_backup("c1");
    b1.instance.idmap_base = 2'000'000;
    b1.instance.profiles = {"default"};
    ASSERT_TRUE(store->write([&](Transaction& tx) { return create_instance(tx, b1.instance); }));
    auto b2 = make_backup("c2");
    auto b3 = make_backup("c3");
    b3.instance.idmap_base = 3'000'000;
    b3.instance.profiles = {"default"};
    b3.profiles.pop_back();
    b3.snapshots.clear();
    std::vector<std::string> paths{dir / "c1.json", dir / "c2.json", dir / "c3.json", dir / "broken.json"};
    ASSERT_TRUE(write_backup_file(paths[0], b1));
    ASSERT_TRUE(write_backup_file(paths[1], b2));
    ASSERT_TRUE(write_backup_file(paths[2], b3));
    ASSERT_TRUE(lxm::base::write_file(paths[3], "[]", true));

    auto dry = recover_instances(*store, paths, /*dry_run=*/true);
    ASSERT_TRUE(dry) << dry.error().message();
    EXPECT_EQ(dry->recovered.size(), 2u);
    EXPECT_EQ(store->read([](Transaction& tx) { return list_instance_names(tx, "default"); })->size(), 1u);

    auto rep = recover_instances(*store, paths);
    ASSERT_TRUE(rep) << rep.error().message();
    ASSERT_EQ(rep->recovered.size(), 2u);
    EXPECT_EQ(rep->recovered[0].name, "c2");
    EXPECT_EQ(rep->recovered[1].name, "c3");
    EXPECT_EQ(rep->present, std::vector<std::string>{"default/c1"});
    ASSERT_EQ(rep->failed.size(), 1u);
    EXPECT_EQ(rep->failed[0].first, paths[3]);

    // c2 came back with its snapshot, its idmap range and the missing "web" profile.
    auto c2 = store->read([](Transaction& tx) { return collect_instance_backup(tx, "default", "c2"); });
    ASSERT_TRUE(c2) << c2.error().message();
    EXPECT_EQ(*c2, b2);
    EXPECT_TRUE(store->integrity_check());

    // Running it again recovers nothing.
    auto again = recover_instances(*store, paths);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->recovered.empty());
    EXPECT_EQ(again->present.size(), 3u);
}

TEST(StoreBackup, RecoverFailureOfOneInstanceLeavesNothingHalfDone) {
    lxm::test::TempDir dir("store");
    auto store = open_mem();
    auto taken = make_backup("owner");
    taken.instance.profiles = {};
    ASSERT_TRUE(store->write([&](Transaction& tx) { return create_instance(tx, taken.instance); }));
    // c2's id range is now held by another instance: its recovery must fail as a whole,
    // including the "web" profile it would have created.
    auto b2 = make_backup("c2");
    ASSERT_TRUE(write_backup_file(dir / "c2.json", b2));
    auto rep = recover_instances(*store, {dir / "c2.json"});
    ASSERT_TRUE(rep);
    ASSERT_EQ(rep->failed.size(), 1u);
    EXPECT_EQ(rep->failed[0].second.code, std::errc::file_exists);
    EXPECT_EQ(store->read([](Transaction& tx) { return list_profile_names(tx, "default"); }).value(),
              std::vector<std::string>{"default"});
}
