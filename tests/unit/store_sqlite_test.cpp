// The RAII SQLite layer: statements, binding, errors, transactions.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "lxm/base/file.hpp"
#include "store/sqlite.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::store;

namespace {

Database open_mem() {
    auto db = Database::open(":memory:");
    EXPECT_TRUE(db) << db.error().message();
    return std::move(*db);
}

int64_t count(Database& db, const std::string& table) {
    auto st = db.prepare("SELECT count(*) FROM " + table);
    EXPECT_TRUE(st);
    EXPECT_TRUE(st->step().value_or(false));
    return st->column_int64(0);
}

}  // namespace

TEST(StoreSqlite, BindAndReadTypedValues) {
    auto db = open_mem();
    ASSERT_TRUE(db.exec("CREATE TABLE t (i INTEGER, r REAL, s TEXT, n INTEGER)"));
    auto ins = db.prepare("INSERT INTO t (i, r, s, n) VALUES (?1, ?2, :s, @n)");
    ASSERT_TRUE(ins) << ins.error().message();
    ASSERT_TRUE(ins->bind(1, int64_t{1} << 40));
    ASSERT_TRUE(ins->bind(2, 2.5));
    ASSERT_TRUE(ins->bind(":s", std::string("hé")));
    ASSERT_TRUE(ins->bind("@n", std::optional<int64_t>{}));
    ASSERT_TRUE(ins->exec());
    ins->reset();
    ASSERT_TRUE(ins->bind_all(7, 0.5, "x", std::optional<int64_t>{9}));
    ASSERT_TRUE(ins->exec());

    auto sel = db.prepare("SELECT i, r, s, n FROM t ORDER BY i DESC");
    ASSERT_TRUE(sel);
    ASSERT_TRUE(sel->step().value());
    EXPECT_EQ(sel->column_int64(0), int64_t{1} << 40);
    EXPECT_DOUBLE_EQ(sel->column_double(1), 2.5);
    EXPECT_EQ(sel->column_text(2), "hé");
    EXPECT_TRUE(sel->column_is_null(3));
    EXPECT_EQ(sel->column_optional_int64(3), std::nullopt);
    ASSERT_TRUE(sel->step().value());
    EXPECT_EQ(sel->column_optional_int64(3), 9);
    EXPECT_EQ(sel->column_optional_text(2), "x");
    EXPECT_FALSE(sel->step().value());

    EXPECT_FALSE(ins->bind(":nope", 1));
}

TEST(StoreSqlite, ErrorsCarryMessageSqlAndMappedCode) {
    auto db = open_mem();
    auto bad = db.prepare("SELEKT 1");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().context.find("SELEKT 1"), std::string::npos);
    EXPECT_NE(bad.error().context.find("syntax error"), std::string::npos);

    ASSERT_TRUE(db.exec("CREATE TABLE u (name TEXT UNIQUE)"));
    ASSERT_TRUE(db.exec("INSERT INTO u VALUES ('a')"));
    auto st = db.prepare("INSERT INTO u VALUES ('a')");
    ASSERT_TRUE(st);
    auto r = st->exec();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::file_exists);
    EXPECT_NE(r.error().context.find("UNIQUE constraint failed: u.name"), std::string::npos);
    EXPECT_NE(r.error().context.find("INSERT INTO u"), std::string::npos);

    EXPECT_FALSE(db.prepare("SELECT 1; SELECT 2"));
}

TEST(StoreSqlite, TransactionRollsBackUnlessCommitted) {
    auto db = open_mem();
    ASSERT_TRUE(db.exec("CREATE TABLE t (x INTEGER)"));
    {
        auto tx = db.begin();
        ASSERT_TRUE(tx);
        ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (1)"));
        EXPECT_TRUE(db.in_transaction());
    }
    EXPECT_FALSE(db.in_transaction());
    EXPECT_EQ(count(db, "t"), 0);
    {
        auto tx = db.begin();
        ASSERT_TRUE(tx);
        ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (1)"));
        ASSERT_TRUE(tx->commit());
    }
    EXPECT_EQ(count(db, "t"), 1);
    {
        auto tx = db.begin(false);
        ASSERT_TRUE(tx);
        ASSERT_TRUE(tx->rollback());
        EXPECT_FALSE(tx->active());
    }
}

TEST(StoreSqlite, FileDatabaseIsWalPrivateWithForeignKeys) {
    lxm::test::TempDir dir("store");
    std::string path = dir / "lxm.db";
    auto db = Database::open(path);
    ASSERT_TRUE(db) << db.error().message();
    auto mode = db->prepare("PRAGMA journal_mode");
    ASSERT_TRUE(mode && mode->step().value());
    EXPECT_EQ(mode->column_text(0), "wal");
    auto fk = db->prepare("PRAGMA foreign_keys");
    ASSERT_TRUE(fk && fk->step().value());
    EXPECT_EQ(fk->column_int64(0), 1);
    auto sync = db->prepare("PRAGMA synchronous");
    ASSERT_TRUE(sync && sync->step().value());
    EXPECT_EQ(sync->column_int64(0), 2);  // FULL
    struct stat sb {};
    ASSERT_EQ(::stat(path.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 0777, 0600u);
}

TEST(StoreSqlite, BackupIncludesWalContents) {
    lxm::test::TempDir dir("store");
    auto db = Database::open(dir / "a.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)"));
    // Nothing checkpointed yet: the rows live in a.db-wal.
    ASSERT_TRUE(db->backup_to(dir / "copy.db")) ;
    auto copy = Database::open(dir / "copy.db");
    ASSERT_TRUE(copy);
    EXPECT_EQ(count(*copy, "t"), 3);
    EXPECT_TRUE(copy->integrity_check());
    EXPECT_FALSE(lxm::base::path_exists(dir / "copy.db.tmp"));
}

TEST(StoreSqlite, StatsCountStatementRuns) {
    auto db = open_mem();
    ASSERT_TRUE(db.exec("CREATE TABLE t (x INTEGER)"));
    db.reset_stats();
    auto st = db.prepare("INSERT INTO t VALUES (?1)");
    ASSERT_TRUE(st);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(st->bind_all(i));
        ASSERT_TRUE(st->exec());
        st->reset();
    }
    EXPECT_EQ(db.stats().prepared, 1u);
    EXPECT_EQ(db.stats().runs, 3u);
}
