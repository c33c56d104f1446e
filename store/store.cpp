#include "store/store.hpp"

#include <chrono>

namespace lxm::store {

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path, const StoreOptions& opts) {
    LXM_TRY(auto db, Database::open(path, opts.db));
    const Schema& schema = opts.schema ? *opts.schema : Schema::lxm();
    LXM_TRY(auto res, schema.ensure(db));
    return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db), std::move(res), opts));
}

Result<void> SqliteStore::run(TxKind kind, const TxFn& fn) {
    if (owner_.load() == std::this_thread::get_id())
        return base::make_error(std::errc::resource_deadlock_would_occur, "store transactions do not nest");
    std::lock_guard lock(mu_);
    owner_.store(std::this_thread::get_id());
    struct ClearOwner {
        std::atomic<std::thread::id>& o;
        ~ClearOwner() { o.store({}); }
    } clear{owner_};

    int backoff = opts_.busy_backoff_ms;
    for (int attempt = 0;; ++attempt) {
        auto once = [&]() -> Result<void> {
            LXM_TRY(auto tx, db_.begin(kind == TxKind::write));
            LXM_TRY_VOID(fn(tx));
            return tx.commit();
        };
        auto r = once();
        if (r || !is_busy(r.error()) || attempt >= opts_.busy_retries) return r;
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
        backoff *= 2;
    }
}

Result<void> SqliteStore::integrity_check() {
    std::lock_guard lock(mu_);
    return db_.integrity_check();
}

}  // namespace lxm::store
