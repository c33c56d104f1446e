#include "lxm/apitypes/certificate.hpp"

#include "lxm/base/x509.hpp"

namespace lxm::apitypes {
using detail::field;
using detail::read_fields;
using detail::write_fields;

namespace {
const auto kPut = std::tuple{field("name", &CertificatePut::name), field("type", &CertificatePut::type),
                             field("restricted", &CertificatePut::restricted),
                             field("projects", &CertificatePut::projects),
                             field("certificate", &CertificatePut::certificate)};
const auto kCert = std::tuple{field("name", &Certificate::name), field("type", &Certificate::type),
                              field("restricted", &Certificate::restricted), field("projects", &Certificate::projects),
                              field("certificate", &Certificate::certificate),
                              field("fingerprint", &Certificate::fingerprint)};
const auto kPost = std::tuple{field("name", &CertificatesPost::name), field("type", &CertificatesPost::type),
                              field("restricted", &CertificatesPost::restricted),
                              field("projects", &CertificatesPost::projects),
                              field("certificate", &CertificatesPost::certificate),
                              field("password", &CertificatesPost::password), field("token", &CertificatesPost::token)};
const auto kToken = std::tuple{field("client_name", &CertificateAddToken::client_name),
                               field("fingerprint", &CertificateAddToken::fingerprint),
                               field("addresses", &CertificateAddToken::addresses),
                               field("secret", &CertificateAddToken::secret),
                               field("expires_at", &CertificateAddToken::expires_at)};
}  // namespace

void to_json(json& j, const CertificatePut& v) { write_fields(j, v, kPut); }
void from_json(const json& j, CertificatePut& v) { read_fields(j, v, kPut, "certificate"); }
void to_json(json& j, const Certificate& v) { write_fields(j, v, kCert); }
void from_json(const json& j, Certificate& v) { read_fields(j, v, kCert, "certificate"); }
void to_json(json& j, const CertificatesPost& v) { write_fields(j, v, kPost); }
void from_json(const json& j, CertificatesPost& v) { read_fields(j, v, kPost, "certificate"); }
void to_json(json& j, const CertificateAddToken& v) { write_fields(j, v, kToken); }
void from_json(const json& j, CertificateAddToken& v) { read_fields(j, v, kToken, "token"); }

std::string encode_add_token(const CertificateAddToken& t) { return base::base64_encode(json(t).dump()); }

base::Result<CertificateAddToken> decode_add_token(std::string_view text) {
    auto raw = base::base64_decode(text);
    if (!raw) return base::make_error(std::errc::invalid_argument, "not a token: " + raw.error().context);
    json j = json::parse(*raw, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return base::make_error(std::errc::invalid_argument, "not a token: not JSON");
    auto t = parse_as<CertificateAddToken>(j);
    if (!t) return base::make_error(std::errc::invalid_argument, "not a token: " + t.error().context);
    if (t->client_name.empty()) return base::make_error(std::errc::invalid_argument, "not a token: no client name");
    if (t->secret.empty() || t->fingerprint.empty())
        return base::make_error(std::errc::invalid_argument, "not a token: no secret or fingerprint");
    return t;
}

}  // namespace lxm::apitypes
