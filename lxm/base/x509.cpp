#include "lxm/base/x509.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lxm/base/file.hpp"

namespace lxm::base {

namespace {

template <auto Fn>
struct Deleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        Fn(p);
    }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

Unexpected ssl_error(std::string context) {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        context += ": ";
        context += buf;
    }
    return make_error(std::errc::invalid_argument, std::move(context));
}

std::string bio_string(BIO* b) {
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

Result<X509Ptr> parse_pem(std::string_view pem) {
    BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!b) return ssl_error("BIO_new_mem_buf");
    X509Ptr x(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
    if (!x) return ssl_error("parse PEM certificate");
    return x;
}

Result<void> add_ext(X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext) return ssl_error("certificate extension " + value);
    if (X509_add_ext(cert, ext.get(), -1) != 1) return ssl_error("add extension " + value);
    return {};
}

}  // namespace

Result<CertKey> generate_cert(const CertOptions& opts) {
    PkeyPtr key(EVP_EC_gen("P-384"));
    if (!key) return ssl_error("generate EC P-384 key");
    X509Ptr x(X509_new());
    if (!x) return ssl_error("X509_new");
    X509_set_version(x.get(), 2);  // v3

    // A positive random 128-bit serial.
    BnPtr serial(BN_new());
    if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) return ssl_error("serial");
    if (!BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get()))) return ssl_error("serial");
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -60 * 60);  // tolerate small clock skew
    X509_time_adj_ex(X509_getm_notAfter(x.get()), opts.days, 0, nullptr);
    if (X509_set_pubkey(x.get(), key.get()) != 1) return ssl_error("set public key");

    X509_NAME* name = X509_get_subject_name(x.get());
    auto add_name = [&](const char* field, const std::string& v) {
        if (v.empty()) return true;
        return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(v.c_str()),
                                          -1, -1, 0) == 1;
    };
    if (!add_name("O", opts.organization) || !add_name("CN", opts.common_name)) return ssl_error("subject name");
    if (X509_set_issuer_name(x.get(), name) != 1) return ssl_error("issuer name");

    LXM_TRY_VOID(add_ext(x.get(), NID_basic_constraints, "critical,CA:FALSE"));
    LXM_TRY_VOID(add_ext(x.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment"));
    LXM_TRY_VOID(add_ext(x.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
    std::string san;
    for (const auto& d : opts.dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
    for (const auto& ip : opts.ip_addresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
    if (!san.empty()) LXM_TRY_VOID(add_ext(x.get(), NID_subject_alt_name, san));

    if (X509_sign(x.get(), key.get(), EVP_sha384()) == 0) return ssl_error("sign certificate");

    CertKey out;
    BioPtr cb(BIO_new(BIO_s_mem()));
    BioPtr kb(BIO_new(BIO_s_mem()));
    if (!cb || !kb) return ssl_error("BIO_new");
    if (PEM_write_bio_X509(cb.get(), x.get()) != 1) return ssl_error("write certificate");
    if (PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return ssl_error("write key");
    out.cert_pem = bio_string(cb.get());
    out.key_pem = bio_string(kb.get());
    return out;
}

Result<CertKey> load_or_create_cert(const std::string& cert_path, const std::string& key_path,
                                    const CertOptions& opts) {
    bool have_cert = path_exists(cert_path), have_key = path_exists(key_path);
    if (have_cert && have_key) {
        CertKey ck;
        LXM_TRY(ck.cert_pem, read_file(cert_path, 1 << 20));
        LXM_TRY(ck.key_pem, read_file(key_path, 1 << 20));
        LXM_TRY_VOID(parse_pem(ck.cert_pem));
        return ck;
    }
    if (have_cert || have_key)
        return make_error(std::errc::file_exists, (have_cert ? cert_path + " exists without " + key_path
                                                             : key_path + " exists without " + cert_path) +
                                                      " (remove it to generate a new pair)");
    LXM_TRY(auto ck, generate_cert(opts));
    LXM_TRY_VOID(write_file_atomic(key_path, ck.key_pem, 0600));
    if (auto r = write_file_atomic(cert_path, ck.cert_pem, 0644); !r) {
        ::unlink(key_path.c_str());
        return std::unexpected(r.error());
    }
    // write_file_atomic creates through the umask: make the modes exact.
    ::chmod(key_path.c_str(), 0600);
    ::chmod(cert_path.c_str(), 0644);
    return ck;
}

Result<std::string> pem_to_der(std::string_view pem) {
    LXM_TRY(auto x, parse_pem(pem));
    unsigned char* der = nullptr;
    int n = i2d_X509(x.get(), &der);
    if (n <= 0) return ssl_error("encode DER");
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
    return out;
}

Result<std::string> der_to_pem(std::string_view der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!x) return ssl_error("parse DER certificate");
    if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size())
        return make_error(std::errc::invalid_argument, "parse DER certificate: trailing data");
    BioPtr b(BIO_new(BIO_s_mem()));
    if (!b || PEM_write_bio_X509(b.get(), x.get()) != 1) return ssl_error("write certificate");
    return bio_string(b.get());
}

std::string hex_encode(std::string_view data) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (unsigned char c : data) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return hex_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

std::string der_fingerprint(std::string_view der) { return sha256_hex(der); }

Result<std::string> cert_fingerprint(std::string_view pem) {
    LXM_TRY(auto der, pem_to_der(pem));
    return der_fingerprint(der);
}

Result<std::string> cert_common_name(std::string_view pem) {
    LXM_TRY(auto x, parse_pem(pem));
    char buf[256] = {};
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x.get()), NID_commonName, buf, sizeof buf);
    if (n < 0) return std::string();
    return std::string(buf, static_cast<size_t>(n));
}

std::string base64_encode(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

Result<std::string> base64_decode(std::string_view text) {
    std::string in;
    for (char c : text)
        if (c != '\n' && c != '\r' && c != ' ') in += c;
    if (in.size() % 4 != 0) return make_error(std::errc::invalid_argument, "invalid base64 (length)");
    for (size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' ||
                  (c == '=' && i >= in.size() - 2 && (i == in.size() - 1 || in.back() == '='));
        if (!ok) return make_error(std::errc::invalid_argument, "invalid base64");
    }
    std::string out(in.size() / 4 * 3 + 1, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    if (n < 0) return make_error(std::errc::invalid_argument, "invalid base64");
    // EVP_DecodeBlock counts padding as zero bytes.
    size_t len = static_cast<size_t>(n);
    if (!in.empty() && in.back() == '=') --len;
    if (in.size() >= 2 && in[in.size() - 2] == '=') --len;
    out.resize(len);
    return out;
}

Result<std::string> random_bytes(size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        return ssl_error("RAND_bytes");
    return out;
}

namespace {
constexpr uint64_t kScryptN = 1u << 14;
constexpr uint64_t kScryptR = 8, kScryptP = 1;
constexpr size_t kScryptLen = 64;

Result<std::string> scrypt(std::string_view password, std::string_view salt) {
    std::string key(kScryptLen, '\0');
    if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                       salt.size(), kScryptN, kScryptR, kScryptP, 64u << 20,
                       reinterpret_cast<unsigned char*>(key.data()), key.size()) != 1)
        return ssl_error("scrypt");
    return key;
}

Result<std::string> hex_decode(std::string_view hex) {
    if (hex.size() % 2) return make_error(std::errc::invalid_argument, "odd hex length");
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) {
        auto nib = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        int hi = nib(hex[i]), lo = nib(hex[i + 1]);
        if (hi < 0 || lo < 0) return make_error(std::errc::invalid_argument, "bad hex");
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}
}  // namespace

Result<std::string> password_hash(std::string_view password) {
    LXM_TRY(auto salt, random_bytes(32));
    LXM_TRY(auto key, scrypt(password, salt));
    return "scrypt$" + hex_encode(salt) + "$" + hex_encode(key);
}

bool password_check(std::string_view hash, std::string_view password) {
    if (!hash.starts_with("scrypt$")) return false;
    auto rest = hash.substr(7);
    auto dollar = rest.find('$');
    if (dollar == std::string_view::npos) return false;
    auto salt = hex_decode(rest.substr(0, dollar));
    auto want = hex_decode(rest.substr(dollar + 1));
    if (!salt || !want || want->size() != kScryptLen) return false;
    auto got = scrypt(password, *salt);
    if (!got) return false;
    return CRYPTO_memcmp(got->data(), want->data(), kScryptLen) == 0;
}

}  // namespace lxm::base
