// X.509 identities for the TLS API (OpenSSL): self-signed EC P-384 certificates
// for lxmd (server) and the lxm CLI (client), fingerprints as LXD computes them
// (sha256 of the DER, lower-case hex), PEM/DER/base64 conversions.
//
//   LXM_TRY(auto id, base::load_or_create_cert(dir + "/server.crt", dir + "/server.key",
//                                              {.common_name = "root@host", .dns_names = {"host"}}));
//   LXM_TRY(auto fp, base::cert_fingerprint(id.cert_pem));
//
// Trust in lxm is decided by fingerprint, never by a CA: these certificates are
// pinned by their peers. They still carry what strict verifiers (Go's crypto/x509,
// which the LXD client uses with the pinned cert as its only root) expect: a DNS SAN
// first (the client takes DNSNames[0] as the server name), positive random serial,
// serverAuth + clientAuth extended key usage.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::base {

struct CertKey {
    std::string cert_pem;
    std::string key_pem;
};

struct CertOptions {
    std::string common_name = "lxm";
    std::string organization = "lxm";
    std::vector<std::string> dns_names{};     // SAN DNS entries, in order
    std::vector<std::string> ip_addresses{};  // SAN IP entries (v4 or v6 text)
    int days = 3650;
};

// New EC P-384 key and a self-signed certificate (ECDSA-SHA384) for it.
Result<CertKey> generate_cert(const CertOptions& opts);

// Read cert_path/key_path, or generate both when neither exists (key 0600, cert 0644,
// written atomically). One present without the other is an error (nothing is overwritten).
Result<CertKey> load_or_create_cert(const std::string& cert_path, const std::string& key_path,
                                    const CertOptions& opts);

// sha256 of the certificate's DER, 64 lower-case hex characters.
Result<std::string> cert_fingerprint(std::string_view pem);
std::string der_fingerprint(std::string_view der);
// Subject common name ("" when none).
Result<std::string> cert_common_name(std::string_view pem);

// The first certificate of a PEM text as DER, and back.
Result<std::string> pem_to_der(std::string_view pem);
Result<std::string> der_to_pem(std::string_view der);

// Standard base64 with padding (as Go's base64.StdEncoding).
std::string base64_encode(std::string_view data);
Result<std::string> base64_decode(std::string_view text);

std::string hex_encode(std::string_view data);
// sha256 hex of data.
std::string sha256_hex(std::string_view data);
// n random bytes from the system CSPRNG.
Result<std::string> random_bytes(size_t n);

// Password hashing for core.trust_password: "scrypt$<hex salt>$<hex key>" (N=2^14, r=8, p=1).
Result<std::string> password_hash(std::string_view password);
// Constant-time comparison against a password_hash() result; false on a malformed hash.
bool password_check(std::string_view hash, std::string_view password);

}  // namespace lxm::base
