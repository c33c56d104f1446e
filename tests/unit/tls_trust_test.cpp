// Pure pieces of remote access: certificates and fingerprints, base64, add tokens,
// trust password hashes, listen addresses, token expiry syntax.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lxm/api/remote_access.hpp"
#include "lxm/api/tls.hpp"
#include "lxm/apitypes/certificate.hpp"
#include "lxm/base/x509.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm;

namespace {
X509* parse(const std::string& pem) {
    BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    BIO_free(b);
    return x;
}
}  // namespace

TEST(X509, GeneratedCertIsSelfSignedP384WithSans) {
    base::CertOptions o;
    o.common_name = "root@host1";
    o.dns_names = {"host1", "localhost"};
    o.ip_addresses = {"127.0.0.1", "::1"};
    auto ck = base::generate_cert(o);
    ASSERT_TRUE(ck) << ck.error().message();
    EXPECT_NE(ck->key_pem.find("PRIVATE KEY"), std::string::npos);
    X509* x = parse(ck->cert_pem);
    ASSERT_NE(x, nullptr);
    EVP_PKEY* pk = X509_get0_pubkey(x);
    ASSERT_NE(pk, nullptr);
    EXPECT_EQ(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
    EXPECT_EQ(EVP_PKEY_get_bits(pk), 384);
    EXPECT_EQ(X509_verify(x, pk), 1);  // self-signed
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
    ASSERT_NE(sans, nullptr);
    ASSERT_EQ(sk_GENERAL_NAME_num(sans), 4);
    const GENERAL_NAME* first = sk_GENERAL_NAME_value(sans, 0);
    ASSERT_EQ(first->type, GEN_DNS);  // the LXD client takes DNSNames[0] as the server name
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(first->d.dNSName))), "host1");
    GENERAL_NAMES_free(sans);
    EXPECT_EQ(base::cert_common_name(ck->cert_pem).value_or(""), "root@host1");
    X509_free(x);
}

TEST(X509, FingerprintIsSha256OfDer) {
    auto ck = base::generate_cert({});
    ASSERT_TRUE(ck);
    auto der = base::pem_to_der(ck->cert_pem);
    ASSERT_TRUE(der);
    auto fp = base::cert_fingerprint(ck->cert_pem);
    ASSERT_TRUE(fp);
    EXPECT_EQ(fp->size(), 64u);
    // Same digest as OpenSSL's X509_digest (what `openssl x509 -fingerprint -sha256` prints).
    X509* x = parse(ck->cert_pem);
    unsigned char md[32];
    unsigned int n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    X509_free(x);
    EXPECT_EQ(*fp, base::hex_encode(std::string_view(reinterpret_cast<char*>(md), n)));
    EXPECT_EQ(base::der_fingerprint(*der), *fp);
    // DER → PEM → DER is stable.
    auto pem2 = base::der_to_pem(*der);
    ASSERT_TRUE(pem2);
    EXPECT_EQ(base::cert_fingerprint(*pem2).value_or(""), *fp);
    EXPECT_FALSE(base::cert_fingerprint("not a certificate"));
    EXPECT_FALSE(base::der_to_pem(*der + "x"));  // trailing junk
}

TEST(X509, LoadOrCreateKeepsThePairAndItsModes) {
    test::TempDir dir("x509");
    std::string crt = dir / "server.crt", key = dir / "server.key";
    auto a = base::load_or_create_cert(crt, key, {});
    ASSERT_TRUE(a) << a.error().message();
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat(crt.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    auto b = base::load_or_create_cert(crt, key, {});
    ASSERT_TRUE(b);
    EXPECT_EQ(a->cert_pem, b->cert_pem);
    ::unlink(key.c_str());
    EXPECT_FALSE(base::load_or_create_cert(crt, key, {}));  // never overwrites half a pair
}

TEST(Base64, RoundTripsAndRejectsJunk) {
    for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
        auto e = base::base64_encode(s);
        EXPECT_EQ(e.size() % 4, 0u);
        auto d = base::base64_decode(e);
        ASSERT_TRUE(d) << e;
        EXPECT_EQ(*d, s);
    }
    EXPECT_EQ(base::base64_encode("ab"), "YWI=");
    EXPECT_FALSE(base::base64_decode("YWI"));
    EXPECT_FALSE(base::base64_decode("Y=WI"));
    EXPECT_FALSE(base::base64_decode("Y*WI"));
}

TEST(AddToken, EncodesAsLxdAndDecodesBack) {
    apitypes::CertificateAddToken t;
    t.client_name = "laptop";
    t.fingerprint = std::string(64, 'a');
    t.addresses = {"10.0.0.1:8443", "[fd00::1]:8443"};
    t.secret = std::string(64, 'b');
    std::string text = apitypes::encode_add_token(t);
    auto raw = base::base64_decode(text);
    ASSERT_TRUE(raw);
    auto j = nlohmann::json::parse(*raw);
    for (const char* k : {"client_name", "fingerprint", "addresses", "secret", "expires_at"})
        EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_EQ(j["expires_at"], "0001-01-01T00:00:00Z");  // Go's zero time: no expiry
    auto back = apitypes::decode_add_token(text);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->client_name, "laptop");
    EXPECT_EQ(back->addresses, t.addresses);
    EXPECT_EQ(back->secret, t.secret);
    // A token LXD 5.0 printed (format of lxd:shared/api/certificate.go).
    std::string lxd = base::base64_encode(
        R"({"client_name":"x","fingerprint":"ff","addresses":["192.0.2.1:8443"],"secret":"s","expires_at":"2030-01-02T03:04:05.123456789Z"})");
    auto l = apitypes::decode_add_token(lxd);
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(apitypes::format_rfc3339(l->expires_at), "2030-01-02T03:04:05.123456789Z");
    // Passwords and junk are not tokens.
    EXPECT_FALSE(apitypes::decode_add_token("sekret"));
    EXPECT_FALSE(apitypes::decode_add_token(base::base64_encode("[1,2]")));
    EXPECT_FALSE(apitypes::decode_add_token(base::base64_encode(R"({"client_name":"","secret":"s","fingerprint":"f"})")));
    EXPECT_FALSE(apitypes::decode_add_token(base::base64_encode(R"({"client_name":"x","fingerprint":"f"})")));
}

TEST(TrustPassword, HashChecksAndIsSalted) {
    auto h = base::password_hash("s3cret");
    ASSERT_TRUE(h);
    EXPECT_TRUE(h->starts_with("scrypt$"));
    EXPECT_EQ(h->find("s3cret"), std::string::npos);
    EXPECT_TRUE(base::password_check(*h, "s3cret"));
    EXPECT_FALSE(base::password_check(*h, "s3cret "));
    EXPECT_FALSE(base::password_check(*h, ""));
    EXPECT_NE(*h, *base::password_hash("s3cret"));
    EXPECT_FALSE(base::password_check("plain", "plain"));
    EXPECT_FALSE(base::password_check("scrypt$zz$00", "x"));
}

TEST(ListenAddress, ParsesLxdForms) {
    auto p = [](std::string_view s) { return api::parse_listen_address(s); };
    EXPECT_EQ(p("[::]:8443")->host, "::");
    EXPECT_TRUE(p("[::]:8443")->wildcard());
    EXPECT_EQ(p(":9443")->port, 9443);
    EXPECT_TRUE(p(":9443")->wildcard());
    EXPECT_EQ(p("127.0.0.1")->port, api::kDefaultHttpsPort);
    EXPECT_EQ(p("127.0.0.1:0")->port, 0);
    EXPECT_EQ(p("::1")->host, "::1");
    EXPECT_EQ(p("[fd00::1]")->host, "fd00::1");
    EXPECT_EQ(p("host.example:8000")->host, "host.example");
    for (auto bad : {"", "[::1", "[::1]x", "1.2.3.4:", "1.2.3.4:70000", "1.2.3.4:ab", "a b:1", "[zz::q]:1"})
        EXPECT_FALSE(p(bad)) << bad;
    EXPECT_EQ(api::join_host_port("::1", 8443), "[::1]:8443");
    EXPECT_EQ(api::join_host_port("10.0.0.1", 1), "10.0.0.1:1");
    EXPECT_EQ(api::reachable_addresses(*p("127.0.0.1:9")), std::vector<std::string>{"127.0.0.1:9"});
}

TEST(TokenExpiry, ParsesLxdSyntax) {
    using namespace std::chrono;
    EXPECT_FALSE(*api::parse_expiry(""));
    EXPECT_EQ(**api::parse_expiry("30S"), seconds(30));
    EXPECT_EQ(**api::parse_expiry("10M"), minutes(10));
    EXPECT_EQ(**api::parse_expiry("1H 30M"), minutes(90));
    EXPECT_EQ(**api::parse_expiry("2d"), hours(48));
    EXPECT_EQ(**api::parse_expiry("1w"), hours(24 * 7));
    for (auto bad : {"10", "S", "5x", "-1H", "1H x"}) EXPECT_FALSE(api::parse_expiry(bad)) << bad;
}
