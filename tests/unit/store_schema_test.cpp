// Schema versioning: fresh creation, ordered updates, gaps and newer
// databases refused, a backup copy before updating an existing file.
#include <gtest/gtest.h>

#include "lxm/base/file.hpp"
#include "store/profiles.hpp"
#include "store/schema.hpp"
#include "store/store.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::store;

// Records are built with designated initializers that leave defaulted members out on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

SchemaUpdate update_one() { return sql_update(1, "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1)"); }
SchemaUpdate update_two() {
    return SchemaUpdate{2, [](Transaction& tx) -> Result<void> {
                            LXM_TRY_VOID(tx.exec("ALTER TABLE a ADD COLUMN y INTEGER NOT NULL DEFAULT 0"));
                            return tx.exec("UPDATE a SET y = x * 10");
                        }};
}

int64_t scalar(Database& db, const std::string& sql) {
    auto st = db.prepare(sql);
    EXPECT_TRUE(st) << (st ? "" : st.error().message());
    EXPECT_TRUE(st->step().value_or(false));
    return st->column_int64(0);
}

}  // namespace

TEST(StoreSchema, FreshDatabaseRunsEveryUpdate) {
    auto db = Database::open(":memory:");
    ASSERT_TRUE(db);
    auto r = Schema::lxm().ensure(*db);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->previous, 0);
    EXPECT_EQ(r->current, Schema::lxm().latest());
    EXPECT_TRUE(r->backup_path.empty());
    EXPECT_EQ(schema_version(*db).value(), Schema::lxm().latest());
    EXPECT_TRUE(db->integrity_check());
    // Foreign keys are back on after the updates.
    EXPECT_EQ(scalar(*db, "PRAGMA foreign_keys"), 1);
    // A second ensure is a no-op.
    auto again = Schema::lxm().ensure(*db);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->previous, again->current);
}

TEST(StoreSchema, DefaultProfileExists) {
    auto s = SqliteStore::open(":memory:");
    ASSERT_TRUE(s) << s.error().message();
    auto p = (*s)->read([](Transaction& tx) { return get_profile(tx, "default", "default"); });
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->name, "default");
}

TEST(StoreSchema, RefusesGapInUpdateList) {
    auto db = Database::open(":memory:");
    ASSERT_TRUE(db);
    Schema gappy({update_one(), sql_update(3, "CREATE TABLE c (x INTEGER)")});
    auto r = gappy.ensure(*db);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::invalid_argument);
    EXPECT_NE(r.error().message().find("without gaps"), std::string::npos);
    EXPECT_EQ(schema_version(*db).value(), 0);  // nothing was applied
}

TEST(StoreSchema, RefusesGapInRecordedVersions) {
    auto db = Database::open(":memory:");
    ASSERT_TRUE(db);
    Schema three({update_one(), update_two(), sql_update(3, "CREATE TABLE c (x INTEGER)")});
    ASSERT_TRUE(three.ensure(*db));
    ASSERT_TRUE(db->exec("DELETE FROM schema_version WHERE version = 2"));
    auto r = three.ensure(*db);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("gaps"), std::string::npos);
}

TEST(StoreSchema, RefusesDatabaseNewerThanCode) {
    lxm::test::TempDir dir("store");
    std::string path = dir / "lxm.db";
    Schema two({update_one(), update_two()});
    {
        auto s = SqliteStore::open(path, {.schema = &two});
        ASSERT_TRUE(s) << s.error().message();
    }
    Schema old({update_one()});
    auto s = SqliteStore::open(path, {.schema = &old});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, std::errc::not_supported);
    EXPECT_NE(s.error().message().find("newer"), std::string::npos);
}

TEST(StoreSchema, RefusesForeignDatabase) {
    auto db = Database::open(":memory:");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE someone_elses (x INTEGER)"));
    EXPECT_FALSE(Schema({update_one()}).ensure(*db));
}

TEST(StoreSchema, BacksUpExistingFileBeforeUpdating) {
    lxm::test::TempDir dir("store");
    std::string path = dir / "lxm.db";
    Schema v1({update_one()});
    {
        auto s = SqliteStore::open(path, {.schema = &v1});
        ASSERT_TRUE(s) << s.error().message();
        EXPECT_EQ((*s)->schema_version(), 1);
        // Leave data in the WAL (not checkpointed) to prove the copy sees it.
        ASSERT_TRUE((*s)->transaction([](Transaction& tx) { return tx.exec("INSERT INTO a VALUES (2)"); }));
        EXPECT_TRUE((*s)->schema_result().backup_path.empty());
    }
    Schema v2({update_one(), update_two()});
    auto s = SqliteStore::open(path, {.schema = &v2});
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ((*s)->schema_result().previous, 1);
    EXPECT_EQ((*s)->schema_version(), 2);
    EXPECT_EQ((*s)->schema_result().backup_path, path + ".bak.1");
    EXPECT_EQ(scalar((*s)->database(), "SELECT sum(y) FROM a"), 30);

    auto bak = Database::open(path + ".bak.1", {.read_only = true});
    ASSERT_TRUE(bak) << bak.error().message();
    EXPECT_EQ(schema_version(*bak).value(), 1);
    EXPECT_EQ(scalar(*bak, "SELECT count(*) FROM a"), 2);
    EXPECT_FALSE(bak->prepare("SELECT y FROM a"));  // taken before update 2
}

TEST(StoreSchema, FailedUpdateRollsBackAndKeepsVersion) {
    lxm::test::TempDir dir("store");
    std::string path = dir / "lxm.db";
    Schema v1({update_one()});
    ASSERT_TRUE(SqliteStore::open(path, {.schema = &v1}));
    Schema broken({update_one(), SchemaUpdate{2, [](Transaction& tx) -> Result<void> {
                                                   LXM_TRY_VOID(tx.exec("CREATE TABLE half (x INTEGER)"));
                                                   return tx.exec("INSERT INTO nowhere VALUES (1)");
                                               }}});
    auto s = SqliteStore::open(path, {.schema = &broken});
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message().find("schema update 2"), std::string::npos);
    auto db = Database::open(path);
    ASSERT_TRUE(db);
    EXPECT_EQ(schema_version(*db).value(), 1);
    EXPECT_FALSE(db->prepare("SELECT * FROM half"));
    EXPECT_TRUE(lxm::base::path_exists(path + ".bak.1"));
}
