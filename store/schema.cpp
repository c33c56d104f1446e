#include "store/schema.hpp"

#include <ctime>

namespace lxm::store {

namespace {

constexpr std::string_view kCreateVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY,"
    " applied_at INTEGER NOT NULL"
    ") STRICT";

Result<void> check_update_list(const std::vector<SchemaUpdate>& updates) {
    for (size_t i = 0; i < updates.size(); ++i) {
        int want = static_cast<int>(i) + 1;
        if (updates[i].version != want)
            return base::make_error(std::errc::invalid_argument,
                                    "schema updates must be numbered 1..N without gaps: position " +
                                        std::to_string(want) + " holds update " +
                                        std::to_string(updates[i].version));
        if (!updates[i].apply)
            return base::make_error(std::errc::invalid_argument,
                                    "schema update " + std::to_string(want) + " has no function");
    }
    return {};
}

Result<bool> has_version_table(Database& db) {
    LXM_TRY(auto st, db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"));
    return st.step();
}

Result<int> count_user_tables(Database& db) {
    LXM_TRY(auto st, db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"));
    LXM_TRY_VOID(st.step());
    return static_cast<int>(st.column_int64(0));
}

Result<void> apply_one(Database& db, const SchemaUpdate& u) {
    auto fail = [&](Error e) { return std::unexpected(base::wrap(std::move(e), "schema update " + std::to_string(u.version))); };
    auto tx = db.begin(true);
    if (!tx) return fail(tx.error());
    if (auto r = tx->exec(kCreateVersionTable); !r) return fail(r.error());
    if (auto r = u.apply(*tx); !r) return fail(r.error());
    {
        auto st = tx->prepare("PRAGMA foreign_key_check");
        if (!st) return fail(st.error());
        auto row = st->step();
        if (!row) return fail(row.error());
        if (*row)
            return fail(Error{std::make_error_code(std::errc::invalid_argument),
                              "leaves a foreign key violation in table " + st->column_text(0)});
    }
    {
        auto st = tx->prepare("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)");
        if (!st) return fail(st.error());
        if (auto r = st->bind_all(u.version, static_cast<int64_t>(::time(nullptr))); !r) return fail(r.error());
        if (auto r = st->exec(); !r) return fail(r.error());
    }
    if (auto r = tx->commit(); !r) return fail(r.error());
    return {};
}

}  // namespace

SchemaUpdate sql_update(int version, std::string_view sql) {
    return SchemaUpdate{version, [text = std::string(sql)](Transaction& tx) { return tx.exec(text); }};
}

Result<int> schema_version(Database& db) {
    LXM_TRY(bool has, has_version_table(db));
    if (!has) return 0;
    LXM_TRY(auto st, db.prepare("SELECT count(*), coalesce(min(version), 0), coalesce(max(version), 0) FROM schema_version"));
    LXM_TRY_VOID(st.step());
    int64_t count = st.column_int64(0), min = st.column_int64(1), max = st.column_int64(2);
    if (count != max || (count > 0 && min != 1))
        return base::make_error(std::errc::invalid_argument,
                                "schema_version of " + db.path() + " has gaps: " + std::to_string(count) +
                                    " updates recorded, highest " + std::to_string(max));
    return static_cast<int>(max);
}

Result<SchemaResult> Schema::ensure(Database& db) const {
    if (db.in_transaction())
        return base::make_error(std::errc::invalid_argument, "schema update: database is inside a transaction");
    LXM_TRY_VOID(check_update_list(updates_));
    SchemaResult res;
    LXM_TRY(res.previous, schema_version(db));
    res.current = res.previous;
    if (res.previous > latest())
        return base::make_error(std::errc::not_supported,
                                "database " + db.path() + " has schema version " + std::to_string(res.previous) +
                                    ", newer than this lxm knows (" + std::to_string(latest()) +
                                    "): refusing to use it; run a newer lxmd or restore a backup");
    if (res.previous == latest()) return res;
    if (res.previous == 0) {
        LXM_TRY(int tables, count_user_tables(db));
        if (tables != 0)
            return base::make_error(std::errc::invalid_argument,
                                    "database " + db.path() + " has tables but no schema_version: not an lxm database");
    }

    bool on_disk = db.path() != ":memory:" && !db.path().empty();
    if (res.previous > 0 && on_disk) {
        res.backup_path = db.path() + ".bak." + std::to_string(res.previous);
        if (auto r = db.backup_to(res.backup_path); !r)
            return std::unexpected(base::wrap(r.error(), "backup before schema update"));
    }

    LXM_TRY_VOID(db.exec("PRAGMA foreign_keys=OFF"));
    Result<void> applied;
    for (int v = res.previous + 1; v <= latest() && applied; ++v) {
        applied = apply_one(db, updates_[static_cast<size_t>(v - 1)]);
        if (applied) res.current = v;
    }
    auto fk = db.exec("PRAGMA foreign_keys=ON");
    if (!applied) return std::unexpected(std::move(applied).error());
    if (!fk) return std::unexpected(std::move(fk).error());
    return res;
}

}  // namespace lxm::store
