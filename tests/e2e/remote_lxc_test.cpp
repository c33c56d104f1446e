// Compatibility over HTTPS: the unmodified LXD client (`lxc` 5.0, package lxd-client), with
// its own LXD_CONF, adds lxmd as a remote with a join token and (another client) with the
// trust password, then lists, launches busybox, execs and deletes there. Also `lxm remote`.
// Skips with the reason when lxc or the busybox rootfs is missing.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstdio>

#include "lxm/apitypes/certificate.hpp"
#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

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

class RemoteCompat : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        addr_ = "127.0.0.1:" + std::to_string(free_port());
        ASSERT_TRUE(d_.start({"--https-address", addr_}, &why)) << why;
        auto u = client::Client::connect_unix(d_.socket());
        ASSERT_TRUE(u);
        local_.emplace(std::move(*u));
        // No proxies for loopback; the clients never see lxmd's unix socket.
        base_env_ = "env -u LXD_SOCKET -u LXD_DIR -u https_proxy -u HTTPS_PROXY -u http_proxy -u HTTP_PROXY "
                    "NO_PROXY=127.0.0.1,localhost HOME=" + home_.path() + " ";
    }
    CmdResult lxc(const std::string& conf, const std::string& args) {
        return sh(base_env_ + "LXD_CONF=" + home_.path() + "/" + conf + " timeout 120 lxc " + args);
    }
    CmdResult lxm(const std::string& args) {
        return sh(base_env_ + "LXM_CONF=" + home_.path() + "/lxm LXM_DIR=" + d_.state() + " timeout 120 " + bin("lxm") +
                  " " + args);
    }
    std::string token(const std::string& name) {
        auto r = local_->post("/1.0/certificates", json{{"name", name}, {"type", "client"}, {"token", true}});
        EXPECT_TRUE(r);
        if (!r) return "";
        const json& md = r->metadata["metadata"];
        apitypes::CertificateAddToken t;
        t.client_name = name;
        t.fingerprint = md["fingerprint"];
        t.addresses = md["addresses"].get<std::vector<std::string>>();
        t.secret = md["secret"];
        return apitypes::encode_add_token(t);
    }

    Lxmd d_;
    TempDir home_{"home"};
    std::string addr_, base_env_;
    std::optional<client::Client> local_;
};

TEST_F(RemoteCompat, LxcAddsLxmdWithTokenAndPasswordThenRunsThere) {
    if (sh("command -v lxc").code != 0) GTEST_SKIP() << "lxc (package lxd-client) is not installed";
    // Token: `lxc remote add NAME TOKEN` (the token carries the addresses and the fingerprint).
    CmdResult r = lxc("tok", "remote add lxmt " + token("lxc-token"));
    ASSERT_EQ(r.code, 0) << r.out << d_.log();
    r = lxc("tok", "remote list --format csv");
    EXPECT_NE(r.out.find("lxmt,https://" + addr_), std::string::npos) << r.out;
    r = lxc("tok", "list lxmt: --format csv");
    EXPECT_EQ(r.code, 0) << r.out;

    std::string n = Lxmd::name("rlxc");
    r = lxc("tok", "launch lxmt:busybox lxmt:" + n);
    ASSERT_EQ(r.code, 0) << r.out << d_.log();
    r = lxc("tok", "list lxmt: --format csv -c ns");
    EXPECT_NE(r.out.find(n + ",RUNNING"), std::string::npos) << r.out;
    r = lxc("tok", "exec lxmt:" + n + " -- sh -c 'echo out-tls; echo err-tls >&2; exit 3'");
    EXPECT_EQ(r.code, 3) << r.out;
    EXPECT_NE(r.out.find("out-tls"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("err-tls"), std::string::npos) << r.out;

    // Password: another client (its own LXD_CONF, so its own certificate).
    ASSERT_TRUE(local_->patch("/1.0", json{{"config", {{"core.trust_password", "s3cret"}}}}));
    r = lxc("pw", "remote add lxmp https://" + addr_ + " --password wrong --accept-certificate");
    EXPECT_NE(r.code, 0) << r.out;
    r = lxc("pw", "remote add lxmp https://" + addr_ + " --password s3cret --accept-certificate");
    ASSERT_EQ(r.code, 0) << r.out << d_.log();
    r = lxc("pw", "list lxmp: --format csv -c n");
    EXPECT_NE(r.out.find(n), std::string::npos) << r.out;
    r = lxc("pw", "exec lxmp:" + n + " -- true");
    EXPECT_EQ(r.code, 0) << r.out;

    // Both clients are in the trust store: token name, and the certificate's CN.
    auto certs = local_->get("/1.0/certificates?recursion=1");
    ASSERT_TRUE(certs);
    EXPECT_EQ(certs->size(), 2u) << certs->dump();

    r = lxc("tok", "delete --force lxmt:" + n);
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxc("pw", "list lxmp: --format csv");
    EXPECT_EQ(r.out.find(n), std::string::npos) << r.out;
}

TEST_F(RemoteCompat, LxmRemoteWithTokenAndRemotePrefix) {
    // lxm's own client against the same daemon over HTTPS.
    CmdResult r = lxm("remote add lxmt --token " + token("lxm-cli"));
    ASSERT_EQ(r.code, 0) << r.out << d_.log();
    EXPECT_TRUE(base::path_exists(home_.path() + "/lxm/client.crt"));
    EXPECT_TRUE(base::path_exists(home_.path() + "/lxm/servercerts/lxmt.crt"));
    r = lxm("remote list");
    EXPECT_NE(r.out.find("https://" + addr_), std::string::npos) << r.out;
    r = lxm("list lxmt:");
    EXPECT_EQ(r.code, 0) << r.out;
    std::string n = Lxmd::name("rlxm");
    r = lxm("launch busybox lxmt:" + n);
    ASSERT_EQ(r.code, 0) << r.out << d_.log();
    r = lxm("exec lxmt:" + n + " -- sh -c 'echo via-tls; exit 4'");
    EXPECT_EQ(r.code, 4) << r.out;
    EXPECT_NE(r.out.find("via-tls"), std::string::npos) << r.out;
    r = lxm("remote switch lxmt");
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxm("remote get-default");
    EXPECT_EQ(r.out, "lxmt\n");
    r = lxm("info " + n);  // the default remote now
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxm("config trust list");
    EXPECT_NE(r.out.find("lxm-cli"), std::string::npos) << r.out;
    r = lxm("delete --force lxmt:" + n);
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxm("remote rename lxmt other");
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxm("remote get-default");
    EXPECT_EQ(r.out, "other\n");
    r = lxm("remote remove other");
    EXPECT_NE(r.code, 0) << r.out;  // the default remote cannot go
    ASSERT_EQ(lxm("remote switch local").code, 0);
    r = lxm("remote remove other");
    EXPECT_EQ(r.code, 0) << r.out;
    r = lxm("list nosuch:");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("doesn't exist"), std::string::npos) << r.out;
    // A token prints from `lxm config trust add --name`.
    r = lxm("config trust add --name other-client");
    EXPECT_EQ(r.code, 0) << r.out;
    auto last = r.out.substr(r.out.find('\n') + 1);
    while (!last.empty() && last.back() == '\n') last.pop_back();
    auto tok = apitypes::decode_add_token(last);
    ASSERT_TRUE(tok) << r.out;
    EXPECT_EQ(tok->client_name, "other-client");
    EXPECT_EQ(tok->addresses, std::vector<std::string>{addr_});
}

}  // namespace
}  // namespace lxm::test
