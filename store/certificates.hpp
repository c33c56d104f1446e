// Trusted certificates (TLS client trust) and single-use join tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"

namespace lxm::store {

struct CertificateRecord {
    int64_t id = 0;
    std::string fingerprint;  // sha256 of the DER, hex
    std::string type = "client";  // client | server | metrics
    std::string name;
    std::string description;
    std::string certificate;  // PEM
    bool restricted = false;
    std::vector<std::string> projects;  // allowed projects when restricted (sorted)

    bool operator==(const CertificateRecord&) const = default;
};

Result<int64_t> create_certificate(Transaction& tx, const CertificateRecord& rec);
Result<CertificateRecord> get_certificate(Transaction& tx, std::string_view fingerprint);
Result<std::vector<CertificateRecord>> list_certificates(Transaction& tx);  // 2 queries
// Replace type, name, description, restricted and projects (not the PEM).
Result<void> update_certificate(Transaction& tx, const CertificateRecord& rec);
Result<void> delete_certificate(Transaction& tx, std::string_view fingerprint);

struct TokenRecord {
    int64_t id = 0;
    std::string name;         // who the token is for, e.g. the client name to trust
    std::string type = "client";
    std::string secret_hash;  // hash of the secret handed out; the secret itself is never stored
    int64_t created_at = 0;   // unix ns
    int64_t expires_at = 0;   // unix ns

    bool operator==(const TokenRecord&) const = default;
};

Result<int64_t> create_token(Transaction& tx, const TokenRecord& rec);
Result<std::vector<TokenRecord>> list_tokens(Transaction& tx);
Result<void> delete_token(Transaction& tx, std::string_view name);
// Delete the token with this secret hash (revocation); not_found when it is gone already.
Result<void> delete_token_by_hash(Transaction& tx, std::string_view secret_hash);
// Use a token once: it is deleted whatever the outcome. no_such_file_or_directory
// when unknown, timed_out when expired at `now`.
Result<TokenRecord> consume_token(Transaction& tx, std::string_view secret_hash, int64_t now);
// Delete the tokens expired at `now`; returns how many.
Result<int64_t> prune_expired_tokens(Transaction& tx, int64_t now);

}  // namespace lxm::store
