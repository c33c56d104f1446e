// The fixture the migration tests share: two lxmd hosts (tests/support/two_hosts.hpp, each in
// its own network namespace on a test bridge), an API client on each host's unix socket, and
// the CLI's remotes h0, h1 added with join tokens over HTTPS; streams are given up after
// kStreamTimeout seconds without progress.
#pragma once

#include <gtest/gtest.h>

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lxm/base/file.hpp"
#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"
#include "tests/support/two_hosts.hpp"

namespace lxm::test {

class MigrationHosts : public ::testing::Test {
protected:
    static constexpr int kStreamTimeout = 8;  // seconds without progress before a migration stream is given up

    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        if (::access(bin("lxm").c_str(), X_OK) != 0) GTEST_SKIP() << "no lxm binary at " << bin("lxm");
        ASSERT_TRUE(hosts_.setup(&why)) << why;
        hosts_.add_env("LXM_MIGRATION_TIMEOUT=" + std::to_string(kStreamTimeout));
        for (int i = 0; i < 2; ++i) {
            ASSERT_TRUE(hosts_.start(i, &why)) << why;
            connect(i);
            CmdResult a = lxm("remote add h" + std::to_string(i) + " " + token(i) + " --accept-certificate");
            ASSERT_EQ(a.code, 0) << a.out << hosts_.log(i);
        }
    }
    // A derived SetUp calls MigrationHosts::SetUp() first and returns when this is true.
    bool setup_stopped() { return HasFatalFailure() || IsSkipped(); }

    void connect(int i) {
        auto c = client::Client::connect_unix(hosts_.host(i).socket());
        ASSERT_TRUE(c) << c.error().message();
        c_[i].emplace(std::move(*c));
    }
    void restart(int i) {
        std::string why;
        ASSERT_TRUE(hosts_.start(i, &why)) << why;
        connect(i);
    }
    // A join token of host i (a new trust entry).
    std::string token(int i) {
        CmdResult t = lxm_on(i, "config trust add --name migtest" + std::to_string(++tokens_));
        EXPECT_EQ(t.code, 0) << t.out;
        std::string tok = t.out.substr(t.out.find_last_of('\n', t.out.size() - 2) + 1);
        while (!tok.empty() && tok.back() == '\n') tok.pop_back();
        return tok;
    }
    // lxm with the test's config dir (remotes h0, h1); local = host i's socket.
    CmdResult lxm_on(int i, const std::string& args) {
        return sh("LXM_DIR=" + hosts_.host(i).state + " LXM_CONF=" + conf_.path() + " timeout 300 " + bin("lxm") + " " +
                  args);
    }
    CmdResult lxm(const std::string& args) { return lxm_on(0, args); }
    // `lxm <args>` (local = host 0) in the background, output in <conf>/<out>; its pid.
    pid_t lxm_background(const std::string& args, const std::string& out = "bg.out") {
        std::string cmd = "LXM_DIR=" + hosts_.host(0).state + " LXM_CONF=" + conf_.path() + " timeout 300 " +
                          bin("lxm") + " " + args + " > " + conf_.path() + "/" + out + " 2>&1";
        pid_t p = ::fork();
        if (p == 0) {
            ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
            ::_exit(127);
        }
        return p;
    }
    // The real LXD client with its own config dir; no proxies.
    CmdResult lxc(const std::string& args) {
        return sh("env -u LXD_SOCKET -u LXD_DIR -u https_proxy -u HTTPS_PROXY -u http_proxy -u HTTP_PROXY NO_PROXY=" +
                  hosts_.host(0).address + "," + hosts_.host(1).address + " HOME=" + conf_.path() + " LXD_CONF=" +
                  conf_.path() + "/lxc timeout 300 lxc " + args);
    }
    // An API call on host i, waited for when it is an operation: "" or the error.
    std::string async(int i, const std::string& method, const std::string& path, const json& body = json::object()) {
        auto& c = *c_[i];
        base::Result<client::Response> r = method == "POST"  ? c.post(path, body)
                                           : method == "PUT" ? c.put(path, body)
                                                             : c.del(path);
        if (!r) return apitypes::user_message(r.error());
        if (r->operation.empty()) return {};
        auto op = c.wait_success(r->operation);
        if (!op) return apitypes::user_message(op.error());
        return {};
    }
    std::vector<std::string> snapshot_names(int i, const std::string& n) {
        std::vector<std::string> out;
        auto r = c_[i]->get("/1.0/instances/" + n + "/snapshots?recursion=1");
        if (r)
            for (const auto& s : *r) out.push_back(s["name"].get<std::string>());
        return out;
    }
    bool exists(int i, const std::string& n) { return bool(c_[i]->get("/1.0/instances/" + n)); }
    std::string pool(int i, const std::string& p = "default") { return hosts_.host(i).state + "/storage-pools/" + p; }
    // Wait (at most `secs`) until host 1 unpacks a migration stream under its pool's tmp/.
    bool wait_receiving(int secs = 30) {
        for (int k = 0; k < secs * 20; ++k) {
            for (const auto& e : entries(pool(1) + "/tmp"))
                if (e.starts_with("migrate-") && !entries(pool(1) + "/tmp/" + e).empty()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }
    // Migration operations (source or target side) still running on host i; -1 if it does not answer.
    int running_migrations(int i) {
        auto r = c_[i]->get("/1.0/operations?recursion=1");
        if (!r) return -1;
        int n = 0;
        if (r->contains("running"))
            for (const auto& op : (*r)["running"]) {
                std::string d = op.value("description", "");
                if (d == "Migrating instance" || d == "Creating instance") ++n;
            }
        return n;
    }
    // A stopped busybox on host 0: /root/f = one (s1), two (s2), three (now, owned by 1000:1000);
    // user.note=hello; extra_mb of random data in /root/big.
    void make_source(const std::string& n, int extra_mb = 0) {
        ASSERT_EQ(launch(*c_[0], n, true), "");
        ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", "echo one > /root/f"}), 0);
        ASSERT_EQ(async(0, "POST", "/1.0/instances/" + n + "/snapshots", json{{"name", "s1"}}), "");
        ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", "echo two > /root/f"}), 0);
        ASSERT_EQ(async(0, "POST", "/1.0/instances/" + n + "/snapshots", json{{"name", "s2"}}), "");
        std::string cmd = "echo three > /root/f && chown 1000:1000 /root/f";
        if (extra_mb > 0)
            cmd += " && dd if=/dev/urandom of=/root/big bs=1M count=" + std::to_string(extra_mb) + " 2>/dev/null";
        ASSERT_EQ(exec_code(*c_[0], n, {"sh", "-c", cmd}), 0);
        ASSERT_TRUE(c_[0]->patch("/1.0/instances/" + n, json{{"config", {{"user.note", "hello"}}}}));
        ASSERT_EQ(change_state(*c_[0], n, "stop", true), "");
    }

    TwoHosts hosts_;
    TempDir conf_{"migconf"};
    std::optional<client::Client> c_[2];
    int tokens_ = 0;
};

}  // namespace lxm::test
