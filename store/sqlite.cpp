#include "store/sqlite.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "lxm/base/unique_fd.hpp"

namespace lxm::store {

namespace {

class SqliteCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "sqlite"; }
    std::string message(int ev) const override { return sqlite3_errstr(ev); }
    std::error_condition default_error_condition(int ev) const noexcept override {
        switch (ev) {
            case SQLITE_CONSTRAINT_UNIQUE:
            case SQLITE_CONSTRAINT_PRIMARYKEY:
                return std::errc::file_exists;
            default:
                break;
        }
        switch (ev & 0xff) {
            case SQLITE_BUSY:
            case SQLITE_LOCKED:
                return std::errc::device_or_resource_busy;
            case SQLITE_CONSTRAINT:
            case SQLITE_MISMATCH:
            case SQLITE_RANGE:
            case SQLITE_TOOBIG:
                return std::errc::invalid_argument;
            case SQLITE_NOMEM:
                return std::errc::not_enough_memory;
            case SQLITE_READONLY:
                return std::errc::read_only_file_system;
            case SQLITE_FULL:
                return std::errc::no_space_on_device;
            case SQLITE_PERM:
            case SQLITE_AUTH:
                return std::errc::permission_denied;
            case SQLITE_INTERRUPT:
                return std::errc::interrupted;
            case SQLITE_IOERR:
            case SQLITE_CORRUPT:
            case SQLITE_NOTADB:
            case SQLITE_CANTOPEN:
                return std::errc::io_error;
            default:
                return std::error_condition(ev, *this);
        }
    }
};

Error sqlite_error(int rc, std::string_view what, const char* msg, std::string_view sql) {
    std::string ctx(what);
    if (msg && *msg) {
        ctx += ": ";
        ctx += msg;
    }
    if (!sql.empty()) {
        ctx += " [SQL: ";
        ctx += sql;
        ctx += "]";
    }
    return Error{std::error_code(rc, sqlite_category()), std::move(ctx)};
}

Error db_error(sqlite3* db, int rc, std::string_view what, std::string_view sql = {}) {
    return sqlite_error(rc, what, db ? sqlite3_errmsg(db) : nullptr, sql);
}

// Create the file 0600 before SQLite does (it would use 0644 under the usual
// umask): the database holds certificates and token hashes. The -wal and -shm
// files copy the main file's permissions.
Result<void> precreate_private(const std::string& path) {
    if (path == ":memory:" || path.empty() || base::path_exists(path)) return {};
    LXM_TRY(auto fd, base::open_fd(path, O_WRONLY | O_CREAT | O_EXCL, 0600));
    (void)fd;
    return {};
}

}  // namespace

const std::error_category& sqlite_category() {
    static const SqliteCategory cat;
    return cat;
}

bool is_busy(const Error& e) {
    if (e.code.category() != sqlite_category()) return false;
    int primary = e.code.value() & 0xff;
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// ---- Database ----

struct Database::State {
    sqlite3* db = nullptr;
    std::string path;
    DatabaseStats stats;
    ~State() {
        if (db) sqlite3_close_v2(db);
    }
};

Database::Database(std::unique_ptr<State> s) : s_(std::move(s)) {}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

Result<Database> Database::open(const std::string& path, const OpenOptions& opts) {
    if (opts.create && !opts.read_only) LXM_TRY_VOID(precreate_private(path));
    auto state = std::make_unique<State>();
    state->path = path;
    int flags = SQLITE_OPEN_NOMUTEX;  // one thread at a time: Store serialises access
    flags |= opts.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (opts.create && !opts.read_only) flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path.c_str(), &state->db, flags, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(db_error(state->db, rc, "open database " + path));
    sqlite3_extended_result_codes(state->db, 1);
    sqlite3_busy_timeout(state->db, opts.busy_timeout_ms);

    Database db(std::move(state));
    auto wrapped = [&](Error e) { return std::unexpected(base::wrap(std::move(e), "open database " + path)); };
    if (!opts.read_only) {
        auto st = db.prepare("PRAGMA journal_mode=WAL");
        if (!st) return wrapped(st.error());
        auto row = st->step();
        if (!row) return wrapped(row.error());
        std::string mode = *row ? st->column_text(0) : "";
        if (mode != "wal" && path != ":memory:" && !path.empty())
            return base::make_error(std::errc::not_supported,
                                    "open database " + path + ": WAL not available (journal mode " + mode + ")");
    }
    std::string pragmas = "PRAGMA foreign_keys=ON; PRAGMA synchronous=";
    pragmas += opts.synchronous == Synchronous::full ? "FULL;" : "NORMAL;";
    if (auto r = db.exec(pragmas); !r) return wrapped(r.error());
    return db;
}

Result<Statement> Database::prepare(std::string_view sql) {
    sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(s_->db, sql.data(), static_cast<int>(sql.size()), &st, &tail);
    if (rc != SQLITE_OK) return std::unexpected(db_error(s_->db, rc, "prepare", sql));
    if (!st) return base::make_error(std::errc::invalid_argument, "prepare: empty SQL");
    Statement out(st, s_.get());
    for (const char* p = tail; p && p < sql.data() + sql.size(); ++p) {
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != ';')
            return base::make_error(std::errc::invalid_argument, "prepare: more than one statement [SQL: " +
                                                                     std::string(sql) + "]");
    }
    ++s_->stats.prepared;
    return out;
}

Result<void> Database::exec(std::string_view sql) {
    std::string text(sql);  // sqlite3_exec wants a NUL-terminated string
    char* msg = nullptr;
    ++s_->stats.runs;
    int rc = sqlite3_exec(s_->db, text.c_str(), nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
        Error e = sqlite_error(sqlite3_extended_errcode(s_->db), "exec", msg, sql);
        sqlite3_free(msg);
        return std::unexpected(std::move(e));
    }
    return {};
}

Result<Transaction> Database::begin(bool write) {
    LXM_TRY_VOID(exec(write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
    return Transaction(this);
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(s_->db); }
int64_t Database::changes() const { return sqlite3_changes64(s_->db); }
bool Database::in_transaction() const { return sqlite3_get_autocommit(s_->db) == 0; }
const std::string& Database::path() const { return s_->path; }
const DatabaseStats& Database::stats() const { return s_->stats; }
void Database::reset_stats() { s_->stats = {}; }
sqlite3* Database::handle() const { return s_->db; }

Result<void> Database::backup_to(const std::string& dest) {
    std::string tmp = dest + ".tmp";
    ::unlink(tmp.c_str());
    LXM_TRY_VOID(precreate_private(tmp));
    base::Defer cleanup([&] { ::unlink(tmp.c_str()); });
    sqlite3* out = nullptr;
    int rc = sqlite3_open_v2(tmp.c_str(), &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    base::Defer close_out([&] { sqlite3_close_v2(out); });
    if (rc != SQLITE_OK) return std::unexpected(db_error(out, rc, "backup: open " + tmp));
    sqlite3_backup* b = sqlite3_backup_init(out, "main", s_->db, "main");
    if (!b) return std::unexpected(db_error(out, sqlite3_extended_errcode(out), "backup: init"));
    // One step copies everything while holding the read lock: a consistent snapshot.
    rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) return std::unexpected(db_error(out, rc, "backup to " + tmp));
    rc = sqlite3_close_v2(out);
    out = nullptr;
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(rc, "backup: close " + tmp, nullptr, {}));
    {
        LXM_TRY(auto fd, base::open_fd(tmp, O_RDONLY));
        if (::fsync(fd.get()) != 0) return base::errno_error("fsync " + tmp);
    }
    if (::rename(tmp.c_str(), dest.c_str()) != 0) return base::errno_error("rename " + tmp + " to " + dest);
    cleanup.cancel();
    auto slash = dest.rfind('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dest.substr(0, slash));
    if (auto fd = base::open_fd(dir, O_RDONLY | O_DIRECTORY)) (void)::fsync(fd->get());
    return {};
}

Result<void> Database::checkpoint() {
    int rc = sqlite3_wal_checkpoint_v2(s_->db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(db_error(s_->db, rc, "wal checkpoint"));
    return {};
}

Result<void> Database::integrity_check() {
    std::string problems;
    {
        LXM_TRY(auto st, prepare("PRAGMA integrity_check"));
        for (;;) {
            LXM_TRY(bool row, st.step());
            if (!row) break;
            std::string line = st.column_text(0);
            if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
        }
    }
    {
        LXM_TRY(auto st, prepare("PRAGMA foreign_key_check"));
        for (;;) {
            LXM_TRY(bool row, st.step());
            if (!row) break;
            problems += (problems.empty() ? "" : "; ") + std::string("foreign key violation in ") +
                        st.column_text(0) + " rowid " + st.column_text(1) + " -> " + st.column_text(2);
        }
    }
    if (!problems.empty())
        return std::unexpected(sqlite_error(SQLITE_CORRUPT, "integrity check of " + s_->path, problems.c_str(), {}));
    return {};
}

// ---- Statement ----

Statement::Statement(Statement&& o) noexcept
    : st_(std::exchange(o.st_, nullptr)), db_(o.db_), running_(o.running_) {}

Statement& Statement::operator=(Statement&& o) noexcept {
    if (this != &o) {
        if (st_) sqlite3_finalize(st_);
        st_ = std::exchange(o.st_, nullptr);
        db_ = o.db_;
        running_ = o.running_;
    }
    return *this;
}

Statement::~Statement() {
    if (st_) sqlite3_finalize(st_);
}

Result<void> Statement::check_bind(int rc, int index) {
    if (rc == SQLITE_OK) return {};
    return std::unexpected(db_error(db_->db, rc, "bind parameter " + std::to_string(index), sql()));
}

Result<void> Statement::bind(int index, std::nullptr_t) { return check_bind(sqlite3_bind_null(st_, index), index); }
Result<void> Statement::bind(int index, int64_t v) { return check_bind(sqlite3_bind_int64(st_, index, v), index); }
Result<void> Statement::bind(int index, double v) { return check_bind(sqlite3_bind_double(st_, index, v), index); }
Result<void> Statement::bind(int index, std::string_view v) {
    return check_bind(sqlite3_bind_text64(st_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), index);
}

Result<int> Statement::parameter_index(std::string_view name) const {
    std::string n(name);
    int idx = sqlite3_bind_parameter_index(st_, n.c_str());
    if (idx == 0)
        return base::make_error(std::errc::invalid_argument, "no SQL parameter " + n + " [SQL: " + std::string(sql()) + "]");
    return idx;
}

Result<bool> Statement::step() {
    if (!running_) {
        ++db_->stats.runs;
        running_ = true;
    }
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(db_error(db_->db, rc, "step", sql()));
}

Result<void> Statement::exec() {
    for (;;) {
        LXM_TRY(bool row, step());
        if (!row) return {};
    }
}

void Statement::reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    running_ = false;
}

int Statement::column_count() const { return sqlite3_column_count(st_); }
bool Statement::column_is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(st_, col); }
double Statement::column_double(int col) const { return sqlite3_column_double(st_, col); }

std::string Statement::column_text(int col) const {
    const unsigned char* p = sqlite3_column_text(st_, col);
    if (!p) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, col)));
}

std::optional<int64_t> Statement::column_optional_int64(int col) const {
    if (column_is_null(col)) return std::nullopt;
    return column_int64(col);
}

std::optional<std::string> Statement::column_optional_text(int col) const {
    if (column_is_null(col)) return std::nullopt;
    return column_text(col);
}

std::string_view Statement::sql() const {
    const char* s = st_ ? sqlite3_sql(st_) : nullptr;
    return s ? std::string_view(s) : std::string_view();
}

// ---- Transaction ----

Transaction::Transaction(Transaction&& o) noexcept : db_(o.db_), active_(std::exchange(o.active_, false)) {}

Transaction::~Transaction() {
    if (active_ && db_->in_transaction()) (void)db_->exec("ROLLBACK");
}

Result<void> Transaction::commit() {
    if (!active_) return base::make_error(std::errc::invalid_argument, "commit: transaction not active");
    LXM_TRY_VOID(db_->exec("COMMIT"));
    active_ = false;
    return {};
}

Result<void> Transaction::rollback() {
    if (!active_) return {};
    active_ = false;
    if (!db_->in_transaction()) return {};
    return db_->exec("ROLLBACK");
}

}  // namespace lxm::store
