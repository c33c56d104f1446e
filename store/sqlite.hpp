// RAII over SQLite: Database (one connection), Statement (one prepared
// statement), Transaction (BEGIN .. COMMIT, rolled back unless committed).
//
// Repositories only use the surface below (prepare, bind, step, column getters,
// exec, last_insert_rowid, changes). That is deliberate: dqlite speaks the same
// SQL and has the same prepare/bind/step shape in its client protocol, so a
// replicated backend replaces what sits behind these classes, not the queries.
//
// Errors carry an error_code in sqlite_category() (the extended result code,
// which compares equal to the nearest std::errc, e.g. a UNIQUE violation ==
// std::errc::file_exists, SQLITE_BUSY == std::errc::device_or_resource_busy)
// and a context holding SQLite's message and the SQL text.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "lxm/base/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace lxm::store {

using base::Error;
using base::Result;

const std::error_category& sqlite_category();
// True for SQLITE_BUSY / SQLITE_LOCKED (another connection holds the lock).
bool is_busy(const Error& e);

// Durability of a commit. Full is the default for lxmd: with WAL, Normal only
// syncs at checkpoints, so a power cut may lose the last commits (never
// corrupt). lxmd writes are few and human-paced (create, start, snapshot), and
// a lost "instance exists" row after its rootfs was made is worse than one fsync
// per commit. Normal is there for tests and bulk imports.
enum class Synchronous { normal, full };

struct OpenOptions {
    int busy_timeout_ms = 5000;  // how long SQLite's own busy handler waits for a lock
    Synchronous synchronous = Synchronous::full;
    bool read_only = false;
    bool create = true;  // create the file if missing
};

// Counters for tests and debugging: a statement "run" is one execution from
// its first step() to its reset (so N+1 query patterns show up as N+1 runs).
struct DatabaseStats {
    uint64_t prepared = 0;
    uint64_t runs = 0;
};

class Statement;
class Transaction;

class Database {
public:
    // Open a file (created if missing) or ":memory:". Sets the busy timeout,
    // journal_mode=WAL (required for files), foreign_keys=ON, synchronous.
    static Result<Database> open(const std::string& path, const OpenOptions& opts = {});

    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    // Prepare one statement (trailing text other than whitespace is an error).
    Result<Statement> prepare(std::string_view sql);
    // Run one or more statements without results (schema, pragmas, BEGIN).
    Result<void> exec(std::string_view sql);
    // Start a transaction: BEGIN IMMEDIATE for writes (takes the write lock up
    // front, so no deadlock upgrading a read lock later), BEGIN DEFERRED for reads.
    Result<Transaction> begin(bool write = true);

    int64_t last_insert_rowid() const;
    int64_t changes() const;  // rows changed by the last INSERT/UPDATE/DELETE
    bool in_transaction() const;

    // Copy the whole database to dest through SQLite's online backup API. It
    // reads through this connection, so pages still in the WAL are included.
    // Written to a temp file, fsynced and renamed: dest is whole or absent.
    Result<void> backup_to(const std::string& dest);
    // Fold the WAL into the main file and truncate it.
    Result<void> checkpoint();
    // PRAGMA integrity_check + foreign_key_check; an error lists the problems.
    Result<void> integrity_check();

    const std::string& path() const;
    const DatabaseStats& stats() const;
    void reset_stats();
    sqlite3* handle() const;  // for code that needs the raw API (keep it in store/)

private:
    struct State;
    explicit Database(std::unique_ptr<State> s);
    std::unique_ptr<State> s_;
    friend class Statement;
};

class Statement {
public:
    Statement(Statement&&) noexcept;
    Statement& operator=(Statement&&) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    // Bind by 1-based index. Strings are copied. std::nullopt binds NULL.
    Result<void> bind(int index, std::nullptr_t);
    Result<void> bind(int index, int64_t v);
    Result<void> bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
    Result<void> bind(int index, bool v) { return bind(index, static_cast<int64_t>(v ? 1 : 0)); }
    Result<void> bind(int index, double v);
    Result<void> bind(int index, std::string_view v);
    Result<void> bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }
    Result<void> bind(int index, const char* v) { return bind(index, std::string_view(v)); }
    template <typename T>
    Result<void> bind(int index, const std::optional<T>& v) {
        if (!v) return bind(index, nullptr);
        return bind(index, *v);
    }
    // Bind by name, including its prefix (":name", "@name", "$name").
    template <typename T>
    Result<void> bind(std::string_view name, const T& v) {
        auto idx = parameter_index(name);
        if (!idx) return std::unexpected(std::move(idx).error());
        return bind(*idx, v);
    }
    // Bind positional parameters 1..N in order.
    template <typename... A>
    Result<void> bind_all(const A&... args) {
        int i = 0;
        Result<void> r;
        ((r = r ? bind(++i, args) : r), ...);
        return r;
    }

    // Advance: true when a row is available, false when done.
    Result<bool> step();
    // Step to completion, ignoring rows (for INSERT/UPDATE/DELETE).
    Result<void> exec();
    // Make the statement reusable: reset and clear bindings.
    void reset();

    int column_count() const;
    bool column_is_null(int col) const;
    int64_t column_int64(int col) const;
    bool column_bool(int col) const { return column_int64(col) != 0; }
    double column_double(int col) const;
    std::string column_text(int col) const;  // NULL reads as ""
    std::optional<int64_t> column_optional_int64(int col) const;
    std::optional<std::string> column_optional_text(int col) const;

    std::string_view sql() const;

private:
    Statement(sqlite3_stmt* st, Database::State* db) : st_(st), db_(db) {}
    Result<int> parameter_index(std::string_view name) const;
    Result<void> check_bind(int rc, int index);
    sqlite3_stmt* st_ = nullptr;
    Database::State* db_ = nullptr;
    bool running_ = false;
    friend class Database;
};

class Transaction {
public:
    Transaction(Transaction&&) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    // Rolls back when neither commit nor rollback succeeded.
    ~Transaction();

    Result<void> commit();
    Result<void> rollback();
    bool active() const { return active_; }

    // The statement surface repositories use.
    Result<Statement> prepare(std::string_view sql) { return db_->prepare(sql); }
    Result<void> exec(std::string_view sql) { return db_->exec(sql); }
    int64_t last_insert_rowid() const { return db_->last_insert_rowid(); }
    int64_t changes() const { return db_->changes(); }
    Database& database() { return *db_; }

private:
    explicit Transaction(Database* db) : db_(db) {}
    Database* db_;
    bool active_ = true;
    friend class Database;
};

}  // namespace lxm::store
