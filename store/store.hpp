// Store: the daemon's handle on its persistent state.
//
// The interface is transactions of repository calls (store/instances.hpp etc.
// take the Transaction), not one virtual method per query. A dqlite backend
// implements Store::run over a dqlite connection: the SQL and the repositories
// stay the same, because dqlite executes SQLite's SQL. SqliteStore is the local
// single-file backend.
//
//     auto names = store.read([&](Transaction& tx) { return list_instance_names(tx, "default"); });
//     auto id = store.write([&](Transaction& tx) { return create_instance(tx, rec); });
//
// The function runs inside one transaction: it commits when the function
// returns a value and rolls back when it returns an error. It may run more
// than once (SQLITE_BUSY retries), so it must only touch the database and its
// own locals. Transactions do not nest (nesting is an error, not a deadlock).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>

#include "store/schema.hpp"
#include "store/sqlite.hpp"

namespace lxm::store {

enum class TxKind { read, write };
using TxFn = std::function<Result<void>(Transaction&)>;

class Store {
public:
    virtual ~Store() = default;

    // Run fn in one transaction (see above).
    virtual Result<void> run(TxKind kind, const TxFn& fn) = 0;
    // Full consistency check of the database (structure and foreign keys).
    virtual Result<void> integrity_check() = 0;
    virtual int schema_version() const = 0;

    Result<void> transaction(const TxFn& fn) { return run(TxKind::write, fn); }

    // Typed forms: fn returns Result<T>; so does write/read.
    template <typename F>
    auto write(F&& fn) {
        return run_typed(TxKind::write, std::forward<F>(fn));
    }
    template <typename F>
    auto read(F&& fn) {
        return run_typed(TxKind::read, std::forward<F>(fn));
    }

private:
    template <typename F>
    auto run_typed(TxKind kind, F&& fn) -> std::invoke_result_t<F&, Transaction&> {
        using R = std::invoke_result_t<F&, Transaction&>;
        using T = typename R::value_type;
        if constexpr (std::is_void_v<T>) {
            return run(kind, fn);
        } else {
            std::optional<T> out;
            auto r = run(kind, [&](Transaction& tx) -> Result<void> {
                auto v = fn(tx);
                if (!v) return std::unexpected(std::move(v).error());
                out = std::move(*v);
                return {};
            });
            if (!r) return std::unexpected(std::move(r).error());
            return std::move(*out);
        }
    }
};

struct StoreOptions {
    OpenOptions db;
    const Schema* schema = nullptr;  // nullptr: Schema::lxm(); tests inject their own
    int busy_retries = 5;            // extra attempts of a whole transaction after SQLITE_BUSY
    int busy_backoff_ms = 20;        // first wait, doubled each retry
};

class SqliteStore final : public Store {
public:
    // Open (creating if needed) and bring the schema up to date (see schema.hpp).
    static Result<std::unique_ptr<SqliteStore>> open(const std::string& path, const StoreOptions& opts = {});

    Result<void> run(TxKind kind, const TxFn& fn) override;
    Result<void> integrity_check() override;
    int schema_version() const override { return schema_.current; }

    // What open() did to the schema (previous version, backup file).
    const SchemaResult& schema_result() const { return schema_; }
    // The connection, for tests and maintenance; not for use while run() is active elsewhere.
    Database& database() { return db_; }

private:
    SqliteStore(Database db, SchemaResult schema, StoreOptions opts)
        : db_(std::move(db)), schema_(std::move(schema)), opts_(std::move(opts)) {}

    std::mutex mu_;  // one transaction at a time on the connection
    std::atomic<std::thread::id> owner_{};  // thread inside run(), to refuse nesting
    Database db_;
    SchemaResult schema_;
    StoreOptions opts_;
};

inline Result<std::unique_ptr<Store>> open_store(const std::string& path, const StoreOptions& opts = {}) {
    auto s = SqliteStore::open(path, opts);
    if (!s) return std::unexpected(std::move(s).error());
    return std::unique_ptr<Store>(std::move(*s));
}

}  // namespace lxm::store
