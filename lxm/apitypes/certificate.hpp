// /1.0/certificates wire types (lxd:shared/api/certificate.go, LXD 5.0) and the
// certificate add token (lxd:shared/cert.go CertificateTokenDecode): base64 of
// {"client_name","fingerprint","addresses","secret","expires_at"}.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lxm/apitypes/json_util.hpp"
#include "lxm/apitypes/time.hpp"

namespace lxm::apitypes {

// PUT/PATCH body; certificate here is base64 DER (as the LXD client sends it on POST).
struct CertificatePut {
    std::string name;
    std::string type = "client";
    bool restricted = false;
    std::vector<std::string> projects;
    std::string certificate;
};

// GET: certificate is PEM.
struct Certificate {
    std::string name;
    std::string type = "client";
    bool restricted = false;
    std::vector<std::string> projects;
    std::string certificate;
    std::string fingerprint;
};

struct CertificatesPost {
    std::string name;
    std::string type;  // "" means client (the LXD client sends "" with a token)
    bool restricted = false;
    std::vector<std::string> projects;
    std::string certificate;  // base64 DER; "" = the TLS peer's
    std::string password;     // trust password or a whole add token
    bool token = false;       // ask for an add token instead of adding
};

struct CertificateAddToken {
    std::string client_name;
    std::string fingerprint;  // of the server certificate
    std::vector<std::string> addresses;
    std::string secret;
    Timestamp expires_at = zero_time();  // zero: no expiry
};

void to_json(json& j, const CertificatePut& v);
void from_json(const json& j, CertificatePut& v);
void to_json(json& j, const Certificate& v);
void from_json(const json& j, Certificate& v);
void to_json(json& j, const CertificatesPost& v);
void from_json(const json& j, CertificatesPost& v);
void to_json(json& j, const CertificateAddToken& v);
void from_json(const json& j, CertificateAddToken& v);

// base64(JSON) as lxc prints it.
std::string encode_add_token(const CertificateAddToken& t);
// Fails (invalid_argument) on anything that is not a token: bad base64, not JSON,
// no client_name, no secret or no fingerprint.
base::Result<CertificateAddToken> decode_add_token(std::string_view text);

}  // namespace lxm::apitypes
