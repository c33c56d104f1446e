// Schema versioning: an ordered list of numbered, self-contained updates.
//
// schema_version holds one row per applied update. Opening a database:
//   - refuses a database that recorded a version this code does not know
//     (newer than the code: std::errc::not_supported), or whose recorded
//     versions have a gap, or an update list that is not exactly 1..N;
//   - a fresh (empty) database runs every update from 1. We do not keep a
//     separate "latest schema" dump: running the updates is always correct,
//     costs milliseconds, and means every fresh-database test also tests each
//     update; a dump would need a sync test and could still drift in data
//     (rows such as the default profile are created by updates).
//   - an existing database behind the code is first copied to
//     "<path>.bak.<version>" (online backup API, so WAL contents are included),
//     then each pending update runs in its own transaction together with the
//     row that records it.
// Foreign key enforcement is switched off while updates run (SQLite cannot
// toggle it inside a transaction, and table rebuilds need it off); each update
// must leave `PRAGMA foreign_key_check` clean or it is rolled back.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"

namespace lxm::store {

struct SchemaUpdate {
    int version;
    std::function<Result<void>(Transaction&)> apply;
};

// An update that is plain SQL (one or more statements).
SchemaUpdate sql_update(int version, std::string_view sql);

struct SchemaResult {
    int previous = 0;         // version found (0: fresh database)
    int current = 0;          // version now
    std::string backup_path;  // set when a backup copy was made
};

class Schema {
public:
    explicit Schema(std::vector<SchemaUpdate> updates) : updates_(std::move(updates)) {}

    // lxm's own updates (store/updates.cpp).
    static const Schema& lxm();

    int latest() const { return static_cast<int>(updates_.size()); }
    const std::vector<SchemaUpdate>& updates() const { return updates_; }

    // Bring db up to latest(), as described above. `db` must not be inside a transaction.
    Result<SchemaResult> ensure(Database& db) const;

private:
    std::vector<SchemaUpdate> updates_;
};

// Version recorded in a database (0 when it has no schema_version table).
// Errors when the recorded versions have a gap.
Result<int> schema_version(Database& db);

}  // namespace lxm::store
