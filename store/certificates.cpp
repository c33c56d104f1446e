#include "store/certificates.hpp"

#include <unordered_map>

#include "store/config_maps.hpp"
#include "store/errors.hpp"

namespace lxm::store {

namespace {

using detail::Param;

std::string label(std::string_view fingerprint) { return "certificate \"" + std::string(fingerprint) + "\""; }

Result<void> write_projects(Transaction& tx, int64_t id, const std::vector<std::string>& projects) {
    LXM_TRY_VOID(detail::exec_changes(tx, "DELETE FROM certificates_projects WHERE certificate_id = ?1", {id}));
    if (projects.empty()) return {};
    LXM_TRY(auto st, tx.prepare("INSERT OR IGNORE INTO certificates_projects (certificate_id, project) VALUES (?1, ?2)"));
    for (const auto& p : projects) {
        LXM_TRY_VOID(st.bind_all(id, p));
        LXM_TRY_VOID(st.exec());
        st.reset();
    }
    return {};
}

Result<std::vector<CertificateRecord>> select_certificates(Transaction& tx, std::string_view where,
                                                           const std::vector<Param>& params) {
    std::vector<CertificateRecord> out;
    {
        LXM_TRY(auto st, tx.prepare("SELECT id, fingerprint, type, name, description, certificate, restricted "
                                    "FROM certificates " + std::string(where) + " ORDER BY fingerprint"));
        LXM_TRY_VOID(detail::bind_params(st, params));
        for (;;) {
            LXM_TRY(bool row, st.step());
            if (!row) break;
            out.push_back({st.column_int64(0), st.column_text(1), st.column_text(2), st.column_text(3),
                           st.column_text(4), st.column_text(5), st.column_bool(6), {}});
        }
    }
    if (out.empty()) return out;
    LXM_TRY(auto st, tx.prepare("SELECT certificate_id, project FROM certificates_projects WHERE certificate_id IN "
                                "(SELECT id FROM certificates " + std::string(where) + ") ORDER BY project"));
    LXM_TRY_VOID(detail::bind_params(st, params));
    std::unordered_map<int64_t, std::vector<std::string>> projects;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        projects[st.column_int64(0)].push_back(st.column_text(1));
    }
    for (auto& r : out) r.projects = std::move(projects[r.id]);
    return out;
}

TokenRecord read_token(const Statement& st) {
    return {st.column_int64(0), st.column_text(1), st.column_text(2), st.column_text(3), st.column_int64(4),
            st.column_int64(5)};
}

}  // namespace

Result<int64_t> create_certificate(Transaction& tx, const CertificateRecord& rec) {
    auto r = detail::exec_changes(tx,
                                  "INSERT INTO certificates (fingerprint, type, name, description, certificate, "
                                  "restricted) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                  {rec.fingerprint, rec.type, rec.name, rec.description, rec.certificate,
                                   int64_t{rec.restricted ? 1 : 0}});
    if (!r) return std::unexpected(on_write_error(std::move(r).error(), label(rec.fingerprint), "add " + label(rec.fingerprint)));
    int64_t id = tx.last_insert_rowid();
    LXM_TRY_VOID(write_projects(tx, id, rec.projects));
    return id;
}

Result<CertificateRecord> get_certificate(Transaction& tx, std::string_view fingerprint) {
    LXM_TRY(auto rows, select_certificates(tx, "WHERE fingerprint = ?1", {std::string(fingerprint)}));
    if (rows.empty()) return not_found(label(fingerprint));
    return std::move(rows.front());
}

Result<std::vector<CertificateRecord>> list_certificates(Transaction& tx) { return select_certificates(tx, "", {}); }

Result<void> update_certificate(Transaction& tx, const CertificateRecord& rec) {
    LXM_TRY(auto cur, get_certificate(tx, rec.fingerprint));
    LXM_TRY_VOID(detail::exec_changes(tx,
                                      "UPDATE certificates SET type = ?2, name = ?3, description = ?4, restricted = ?5 "
                                      "WHERE id = ?1",
                                      {cur.id, rec.type, rec.name, rec.description, int64_t{rec.restricted ? 1 : 0}}));
    return write_projects(tx, cur.id, rec.projects);
}

Result<void> delete_certificate(Transaction& tx, std::string_view fingerprint) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM certificates WHERE fingerprint = ?1", {std::string(fingerprint)}));
    if (n == 0) return not_found(label(fingerprint));
    return {};
}

Result<int64_t> create_token(Transaction& tx, const TokenRecord& rec) {
    auto r = detail::exec_changes(tx,
                                  "INSERT INTO tokens (name, type, secret_hash, created_at, expires_at) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5)",
                                  {rec.name, rec.type, rec.secret_hash, rec.created_at, rec.expires_at});
    if (!r) return std::unexpected(on_write_error(std::move(r).error(), "token", "create token for " + rec.name));
    return tx.last_insert_rowid();
}

Result<std::vector<TokenRecord>> list_tokens(Transaction& tx) {
    LXM_TRY(auto st, tx.prepare("SELECT id, name, type, secret_hash, created_at, expires_at FROM tokens ORDER BY id"));
    std::vector<TokenRecord> out;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        out.push_back(read_token(st));
    }
    return out;
}

Result<void> delete_token(Transaction& tx, std::string_view name) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM tokens WHERE name = ?1", {std::string(name)}));
    if (n == 0) return not_found("token \"" + std::string(name) + "\"");
    return {};
}

Result<void> delete_token_by_hash(Transaction& tx, std::string_view secret_hash) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM tokens WHERE secret_hash = ?1", {std::string(secret_hash)}));
    if (n == 0) return not_found("token");
    return {};
}

Result<TokenRecord> consume_token(Transaction& tx, std::string_view secret_hash, int64_t now) {
    TokenRecord tok;
    {
        LXM_TRY(auto st, tx.prepare("SELECT id, name, type, secret_hash, created_at, expires_at FROM tokens "
                                    "WHERE secret_hash = ?1"));
        LXM_TRY_VOID(st.bind_all(secret_hash));
        LXM_TRY(bool row, st.step());
        if (!row) return not_found("token");
        tok = read_token(st);
    }
    LXM_TRY_VOID(detail::exec_changes(tx, "DELETE FROM tokens WHERE id = ?1", {tok.id}));
    // The caller commits even on expiry so the stale token is gone; the value says why it was refused.
    if (tok.expires_at <= now) return base::make_error(std::errc::timed_out, "token for " + tok.name + " has expired");
    return tok;
}

Result<int64_t> prune_expired_tokens(Transaction& tx, int64_t now) {
    return detail::exec_changes(tx, "DELETE FROM tokens WHERE expires_at <= ?1", {now});
}

}  // namespace lxm::store
