// Remote access over HTTPS against a real lxmd on 127.0.0.1:<free port>: the untrusted
// surface (every route of the running daemon's table), add tokens (once, not twice, not
// after expiry, listed as token operations), trust password, a removed certificate losing
// access on an open connection, TLS 1.1 refused, websockets over TLS, listener re-bind.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "lxm/apitypes/certificate.hpp"
#include "lxm/base/x509.hpp"
#include "tests/e2e/daemon_fixture.hpp"

namespace lxm::test {
namespace {

using client::Client;

// A TCP port nothing listens on now (bound then released; the daemon binds it right after).
int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

class RemoteTls : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        port_ = free_port();
        addr_ = "127.0.0.1:" + std::to_string(port_);
        std::string why;
        ASSERT_TRUE(d_.start({"--https-address", addr_}, &why)) << why;
        auto u = Client::connect_unix(d_.socket());
        ASSERT_TRUE(u);
        local_.emplace(std::move(*u));
        auto info = local_->get("/1.0");
        ASSERT_TRUE(info);
        server_pem_ = (*info)["environment"]["certificate"].get<std::string>();
        server_fp_ = (*info)["environment"]["certificate_fingerprint"].get<std::string>();
        EXPECT_EQ((*info)["environment"]["addresses"], json::array({addr_}));
        EXPECT_EQ((*info)["config"]["core.https_address"], addr_);
        EXPECT_EQ(base::cert_fingerprint(server_pem_).value_or(""), server_fp_);
    }

    // A new client identity, connected over TLS with the server pinned.
    Client tls_client(const base::CertKey& id, const std::string& address = "") {
        auto c = Client::connect_tls({address.empty() ? addr_ : address, id.cert_pem, id.key_pem, server_fp_});
        EXPECT_TRUE(c) << (c ? "" : c.error().message());
        return std::move(*c);
    }
    static base::CertKey identity(const std::string& cn) {
        base::CertOptions o;
        o.common_name = cn;
        return *base::generate_cert(o);
    }
    std::string issue_token(const std::string& name, json* op_out = nullptr) {
        auto r = local_->post("/1.0/certificates", json{{"name", name}, {"type", "client"}, {"token", true}});
        EXPECT_TRUE(r) << (r ? "" : r.error().message());
        if (!r) return "";
        EXPECT_EQ(r->type, "async");
        EXPECT_EQ(r->metadata["class"], "token");
        if (op_out) *op_out = r->metadata;
        const json& md = r->metadata["metadata"];
        EXPECT_EQ(md["request"]["name"], name);
        EXPECT_EQ(md["fingerprint"], server_fp_);
        EXPECT_EQ(md["addresses"], json::array({addr_}));
        apitypes::CertificateAddToken t;
        t.client_name = name;
        t.fingerprint = md["fingerprint"];
        t.addresses = md["addresses"].get<std::vector<std::string>>();
        t.secret = md["secret"];
        return apitypes::encode_add_token(t);
    }
    static std::string auth(Client& c) {
        auto i = c.get("/1.0");
        return i ? (*i).value("auth", "") : "error: " + i.error().message();
    }
    static int status_of(const base::Result<client::Response>& r) {
        return r ? r->http_status : apitypes::http_status_of(r.error());
    }

    Lxmd d_;
    int port_ = 0;
    std::string addr_, server_pem_, server_fp_;
    std::optional<Client> local_;
};

TEST_F(RemoteTls, UntrustedCallerReachesOnlyWhatLxdAllows) {
    auto table = local_->get("/internal/routes");
    ASSERT_TRUE(table) << table.error().message();
    ASSERT_GT(table->size(), 30u);
    auto id = identity("stranger");
    Client c = tls_client(id);
    std::set<std::string> allowed;
    int checked = 0;
    for (const auto& e : *table) {
        std::string method = e["method"], pattern = e["pattern"];
        // Captures become a plausible but unknown name.
        std::string path;
        for (size_t i = 0; i < pattern.size();) {
            if (pattern[i] == '{') {
                path += "lxmt-nothing";
                i = pattern.find('}', i) + 1;
            } else {
                path += pattern[i++];
            }
        }
        auto r = c.query(method, path, method == "GET" || method == "DELETE" ? json(nullptr) : json::object());
        int st = status_of(r);
        if (e["allow_untrusted"].get<bool>()) {
            allowed.insert(method + " " + pattern);
            EXPECT_NE(st, 500) << method << " " << path;
        } else {
            EXPECT_EQ(st, 403) << method << " " << path;
        }
        ++checked;
    }
    // Exactly LXD's untrusted set (LXD-API.md §2.5).
    EXPECT_EQ(allowed, (std::set<std::string>{"GET /", "GET /1.0", "POST /1.0/certificates",
                                              "GET /1.0/operations/{id}/wait", "GET /1.0/operations/{id}/websocket"}));
    EXPECT_GT(checked, 30);
    // The reduced view.
    auto info = c.get("/1.0");
    ASSERT_TRUE(info);
    EXPECT_EQ((*info)["auth"], "untrusted");
    EXPECT_FALSE(info->contains("environment") && !(*info)["environment"].is_null());
    // Without password or token, POST /1.0/certificates is refused too.
    EXPECT_EQ(status_of(c.post("/1.0/certificates", json{{"type", "client"}})), 403);
    // The events websocket (a trusted endpoint) refuses the upgrade.
    auto ws = c.websocket("/1.0/events");
    ASSERT_FALSE(ws);
    EXPECT_EQ(apitypes::http_status_of(ws.error()), 403);
}

TEST_F(RemoteTls, TokenJoinsOnceAndExpires) {
    json op;
    std::string token = issue_token("laptop", &op);
    ASSERT_FALSE(token.empty());
    // Listed as a running token operation.
    auto ops = local_->get("/1.0/operations?recursion=1");
    ASSERT_TRUE(ops);
    bool listed = false;
    for (const auto& o : (*ops)["running"]) listed = listed || (o["id"] == op["id"] && o["class"] == "token");
    EXPECT_TRUE(listed) << ops->dump();

    auto a = identity("a");
    Client ca = tls_client(a);
    EXPECT_EQ(auth(ca), "untrusted");
    auto r = ca.post("/1.0/certificates", json{{"type", ""}, {"password", token}, {"certificate", ""}});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->http_status, 201);
    EXPECT_EQ(auth(ca), "trusted");
    EXPECT_TRUE(ca.get("/1.0/instances"));
    auto listed_certs = local_->get("/1.0/certificates?recursion=1");
    ASSERT_TRUE(listed_certs);
    ASSERT_EQ(listed_certs->size(), 1u);
    EXPECT_EQ((*listed_certs)[0]["name"], "laptop");  // the token's name, not the certificate's CN
    EXPECT_EQ((*listed_certs)[0]["fingerprint"], *base::cert_fingerprint(a.cert_pem));
    // The operation ended with the join.
    auto done = local_->get(op["id"].get<std::string>().insert(0, "/1.0/operations/"));
    ASSERT_TRUE(done);
    EXPECT_EQ((*done)["status"], "Success");

    // Used once: a second client gets nothing from it.
    auto b = identity("b");
    Client cb = tls_client(b);
    EXPECT_EQ(status_of(cb.post("/1.0/certificates", json{{"password", token}})), 403);
    EXPECT_EQ(auth(cb), "untrusted");

    // A revoked token (DELETE of its operation) is refused.
    json op2;
    std::string revoked = issue_token("revoked", &op2);
    ASSERT_TRUE(local_->del("/1.0/operations/" + op2["id"].get<std::string>()));
    EXPECT_EQ(status_of(cb.post("/1.0/certificates", json{{"password", revoked}})), 403);

    // Expired: core.remote_token_expiry 1S.
    ASSERT_TRUE(local_->patch("/1.0", json{{"config", {{"core.remote_token_expiry", "1S"}}}}));
    json op3;
    std::string soon = issue_token("soon", &op3);
    EXPECT_TRUE(op3["metadata"].contains("expiresAt"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_EQ(status_of(cb.post("/1.0/certificates", json{{"password", soon}})), 403);
    EXPECT_EQ(auth(cb), "untrusted");
    ASSERT_TRUE(local_->patch("/1.0", json{{"config", {{"core.remote_token_expiry", ""}}}}));
    // A fresh one still works for b.
    std::string fresh = issue_token("b");
    EXPECT_EQ(status_of(cb.post("/1.0/certificates", json{{"password", fresh}})), 201);
    EXPECT_EQ(auth(cb), "trusted");
}

TEST_F(RemoteTls, RemovedCertificateLosesAccessOnOpenConnection) {
    auto a = identity("a");
    Client ca = tls_client(a);
    ASSERT_EQ(status_of(ca.post("/1.0/certificates", json{{"password", issue_token("a")}})), 201);
    ASSERT_TRUE(ca.get("/1.0/instances"));
    auto ev = ca.websocket("/1.0/events");  // websockets work over TLS
    ASSERT_TRUE(ev) << ev.error().message();
    std::string fp = *base::cert_fingerprint(a.cert_pem);
    // Prefix lookups as LXD; GET one has an ETag.
    auto one = local_->query("GET", "/1.0/certificates/" + fp.substr(0, 12));
    ASSERT_TRUE(one);
    EXPECT_EQ(one->metadata["fingerprint"], fp);
    EXPECT_FALSE(one->etag.empty());
    ASSERT_TRUE(local_->patch("/1.0/certificates/" + fp, json{{"name", "renamed"}}));
    EXPECT_EQ((*local_->get("/1.0/certificates/" + fp))["name"], "renamed");

    ASSERT_TRUE(local_->del("/1.0/certificates/" + fp.substr(0, 16)));
    // Same client, same kept-alive connection: refused from the next request on.
    auto r = ca.query("GET", "/1.0/instances");
    ASSERT_FALSE(r);
    EXPECT_EQ(apitypes::http_status_of(r.error()), 403);
    EXPECT_EQ(auth(ca), "untrusted");
    EXPECT_EQ(status_of(local_->query("GET", "/1.0/certificates/" + fp)), 404);
}

TEST_F(RemoteTls, TrustPasswordJoinsAndIsStoredHashed) {
    auto a = identity("pw-client");
    Client ca = tls_client(a);
    EXPECT_EQ(status_of(ca.post("/1.0/certificates", json{{"type", "client"}, {"password", "nope"}})), 403);
    ASSERT_TRUE(local_->patch("/1.0", json{{"config", {{"core.trust_password", "s3cret"}}}}));
    auto info = local_->get("/1.0");
    ASSERT_TRUE(info);
    EXPECT_EQ((*info)["config"]["core.trust_password"], "true");
    auto db = base::read_file(d_.state() + "/database/lxm.db", 64 << 20);
    ASSERT_TRUE(db);
    EXPECT_EQ(db->find("s3cret"), std::string::npos);
    // A GET-modify-PUT client sends the mask back: the password stays.
    json cfg = (*info)["config"];
    ASSERT_TRUE(local_->put("/1.0", json{{"config", cfg}}));
    EXPECT_EQ(status_of(ca.post("/1.0/certificates", json{{"type", "client"}, {"password", "wrong"}})), 403);
    auto r = ca.post("/1.0/certificates", json{{"type", "client"}, {"password", "s3cret"}, {"certificate", ""}});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(auth(ca), "trusted");
    auto certs = local_->get("/1.0/certificates?recursion=1");
    ASSERT_TRUE(certs);
    ASSERT_EQ(certs->size(), 1u);
    EXPECT_EQ((*certs)[0]["name"], "pw-client");  // the certificate's CN
    // Already trusted and asking again: conflict.
    auto again = local_->post("/1.0/certificates", json{{"type", "client"},
                                                        {"certificate", base::base64_encode(*base::pem_to_der(a.cert_pem))}});
    EXPECT_EQ(status_of(again), 409);
}

TEST_F(RemoteTls, OldTlsVersionsAreRefused) {
    auto try_version = [&](int version) {
        SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx, version);
        SSL_CTX_set_max_proto_version(ctx, version);
        SSL_CTX_set_security_level(ctx, 0);  // let the client offer TLS 1.1 at all
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port_));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = false;
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
            SSL* ssl = SSL_new(ctx);
            SSL_set_fd(ssl, fd);
            ok = SSL_connect(ssl) == 1;
            SSL_free(ssl);
        }
        ::close(fd);
        SSL_CTX_free(ctx);
        return ok;
    };
    EXPECT_FALSE(try_version(TLS1_VERSION));
    EXPECT_FALSE(try_version(TLS1_1_VERSION));
    EXPECT_TRUE(try_version(TLS1_2_VERSION));
    EXPECT_TRUE(try_version(TLS1_3_VERSION));
}

TEST_F(RemoteTls, PinnedCertificateMismatchIsRefused) {
    auto a = identity("a");
    auto c = Client::connect_tls({addr_, a.cert_pem, a.key_pem, std::string(64, '0')});
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message().find("pinned"), std::string::npos) << c.error().message();
}

TEST_F(RemoteTls, ListenerRebindsAndStops) {
    int port2 = free_port();
    std::string addr2 = "127.0.0.1:" + std::to_string(port2);
    ASSERT_TRUE(local_->patch("/1.0", json{{"config", {{"core.https_address", addr2}}}}));
    auto a = identity("a");
    EXPECT_FALSE(Client::connect_tls({addr_, a.cert_pem, a.key_pem, server_fp_}));
    auto c2 = Client::connect_tls({addr2, a.cert_pem, a.key_pem, server_fp_});
    ASSERT_TRUE(c2) << c2.error().message();
    EXPECT_EQ((*local_->get("/1.0"))["environment"]["addresses"], json::array({addr2}));
    // A bad address is refused and the listener stays.
    EXPECT_EQ(status_of(local_->patch("/1.0", json{{"config", {{"core.https_address", "[zz"}}}})), 400);
    EXPECT_TRUE(Client::connect_tls({addr2, a.cert_pem, a.key_pem, server_fp_}));
    // Removing the key stops HTTPS.
    ASSERT_TRUE(local_->patch("/1.0", json{{"config", {{"core.https_address", ""}}}}));
    EXPECT_FALSE(Client::connect_tls({addr2, a.cert_pem, a.key_pem, server_fp_}));
    EXPECT_EQ((*local_->get("/1.0"))["environment"]["addresses"], json::array());
}

TEST_F(RemoteTls, ServerCertificateFilesHaveTightModes) {
    struct stat st {};
    ASSERT_EQ(::stat((d_.state() + "/server.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat((d_.state() + "/server.crt").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
}

}  // namespace
}  // namespace lxm::test
