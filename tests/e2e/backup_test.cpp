// Backups end to end: a real lxmd on a temp state dir, busybox containers, the
// real `lxm` CLI (export/import) and, when installed, the unmodified `lxc` client.
//   - export (zstd, streamed) of a running container with two snapshots, delete,
//     import: the snapshots, the config and the files are back and it boots;
//   - --instance-only leaves the snapshots out; the backup the export made is gone;
//   - a truncated or corrupt file is refused with a clear error, leaving no
//     instance, row, volume, temp dir or upload behind;
//   - `lxc export` / `lxc import` against lxmd.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "lxm/base/file.hpp"
#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

class Backups : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        if (::access(bin("lxm").c_str(), X_OK) != 0) GTEST_SKIP() << "no lxm binary at " << bin("lxm");
        ASSERT_TRUE(d_.start({}, &why)) << why;
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
    }

    std::string async(const std::string& method, const std::string& path, const json& body = json::object()) {
        base::Result<client::Response> r = method == "POST"  ? c_->post(path, body)
                                           : method == "PUT" ? c_->put(path, body)
                                                             : c_->del(path);
        if (!r) return apitypes::user_message(r.error());
        auto op = c_->wait_success(r->operation);
        if (!op) return apitypes::user_message(op.error());
        return {};
    }
    CmdResult lxm(const std::string& args) {
        return sh("LXM_DIR=" + d_.state() + " LXM_CONF=" + home_.path() + "/lxm timeout 300 " + bin("lxm") + " " + args);
    }
    std::vector<std::string> snapshot_names(const std::string& n) {
        std::vector<std::string> out;
        auto r = c_->get("/1.0/instances/" + n + "/snapshots?recursion=1");
        if (r)
            for (const auto& s : *r) out.push_back(s["name"].get<std::string>());
        return out;
    }
    std::string pool() { return d_.state() + "/storage-pools/default"; }
    bool exists(const std::string& n) { return bool(c_->get("/1.0/instances/" + n)); }

    // A running busybox with /root/f = one (s1), two (s2), three (now) and a user key.
    void make_source(const std::string& n) {
        ASSERT_EQ(launch(*c_, n, true), "");
        ASSERT_EQ(exec_code(*c_, n, {"sh", "-c", "echo one > /root/f"}), 0);
        ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/snapshots", json{{"name", "s1"}}), "");
        ASSERT_EQ(exec_code(*c_, n, {"sh", "-c", "echo two > /root/f && mkdir -p /srv/d && echo x > /srv/d/x"}), 0);
        ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/snapshots", json{{"name", "s2"}}), "");
        ASSERT_EQ(exec_code(*c_, n, {"sh", "-c", "echo three > /root/f && chown 1000:1000 /root/f && rm /srv/d/x"}), 0);
        auto p = c_->patch("/1.0/instances/" + n, json{{"config", {{"user.note", "hello"}}}});
        ASSERT_TRUE(p) << apitypes::user_message(p.error());
    }

    Lxmd d_;
    TempDir home_{"bhome"};
    TempDir files_{"bfiles"};
    std::optional<client::Client> c_;
};

TEST_F(Backups, ExportDeleteImportBringsSnapshotsConfigAndBoots) {
    std::string n = Lxmd::name("bk");
    make_source(n);
    std::string file = files_.path() + "/bk.tar.zst";

    CmdResult r = lxm("export " + n + " " + file);
    ASSERT_EQ(r.code, 0) << r.out << d_.log();
    EXPECT_NE(r.out.find("exported"), std::string::npos) << r.out;
    // Streamed into the target only: no partial file beside it, no tarball in the pool.
    EXPECT_EQ(entries(files_.path()), std::vector<std::string>{"bk.tar.zst"});
    EXPECT_EQ(entries(pool() + "/tmp"), std::vector<std::string>{});
    // The backup the export made is deleted, with its pool snapshot.
    auto bl = c_->get("/1.0/instances/" + n + "/backups");
    ASSERT_TRUE(bl);
    EXPECT_TRUE(bl->empty()) << bl->dump();
    EXPECT_EQ(entries(pool() + "/containers/" + n + "/snapshots"), (std::vector<std::string>{"s1", "s2"}));
    // LXD's layout, zstd-compressed.
    CmdResult t = sh("tar --zstd -tf " + file + " | sed -e 's,/$,,' | grep -E '^backup/(index.yaml|snapshots/s[12]/rootfs/root/f|container/rootfs/root/f)$' | sort");
    EXPECT_EQ(t.out,
              "backup/container/rootfs/root/f\nbackup/index.yaml\nbackup/snapshots/s1/rootfs/root/f\n"
              "backup/snapshots/s2/rootfs/root/f\n");
    // Owners as the container sees them.
    CmdResult own = sh("tar --zstd -tvf " + file + " --numeric-owner backup/container/rootfs/root/f");
    EXPECT_NE(own.out.find("1000/1000"), std::string::npos) << own.out;
    EXPECT_EQ(sh("tar --zstd -xOf " + file + " backup/snapshots/s1/rootfs/root/f").out, "one\n");

    // Still running, untouched.
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(cat /root/f)\" = three"}), 0);
    ASSERT_EQ(change_state(*c_, n, "stop", true), "");
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + n), "");
    ASSERT_FALSE(exists(n));

    r = lxm("import " + file);
    ASSERT_EQ(r.code, 0) << r.out << d_.log();
    ASSERT_TRUE(exists(n));
    EXPECT_EQ(snapshot_names(n), (std::vector<std::string>{"s1", "s2"}));
    auto inst = c_->get("/1.0/instances/" + n);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["config"].value("user.note", ""), "hello");
    EXPECT_FALSE((*inst)["config"].contains("volatile.lxm.creating"));
    EXPECT_EQ(entries(pool() + "/tmp"), std::vector<std::string>{});
    ASSERT_EQ(change_state(*c_, n, "start"), "") << d_.log();
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(cat /root/f)\" = three"}), 0);
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(stat -c %u:%g /root/f)\" = 1000:1000"}), 0);
    EXPECT_EQ(exec_code(*c_, n, {"test", "-e", "/srv/d/x"}), 1);
    // The snapshots hold their own files.
    ASSERT_EQ(async("PUT", "/1.0/instances/" + n, json{{"restore", "s2"}}), "");
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(cat /root/f)\" = two && test -e /srv/d/x"}), 0);
    ASSERT_EQ(async("PUT", "/1.0/instances/" + n, json{{"restore", "s1"}}), "");
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(cat /root/f)\" = one"}), 0);

    // Importing again under the same name is refused; under another name it works.
    r = lxm("import " + file);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("already exists"), std::string::npos) << r.out;
    std::string m = Lxmd::name("bk2");
    r = lxm("import " + file + " " + m);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(snapshot_names(m), (std::vector<std::string>{"s1", "s2"}));

    // --instance-only, gzip: no snapshots.
    std::string file2 = files_.path() + "/only.tar.gz";
    r = lxm("export " + m + " " + file2 + " --instance-only --compression gzip");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(sh("tar -tzf " + file2 + " | grep -c '^backup/snapshots/s'").out, "0\n");
    std::string o = Lxmd::name("bk3");
    r = lxm("import " + file2 + " " + o);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(snapshot_names(o).empty());
    ASSERT_EQ(change_state(*c_, o, "start"), "");
    EXPECT_EQ(exec_code(*c_, o, {"sh", "-c", "test \"$(cat /root/f)\" = three"}), 0);

    for (const auto& x : {n, m, o}) {
        (void)change_state(*c_, x, "stop", true);
        EXPECT_EQ(async("DELETE", "/1.0/instances/" + x), "");
    }
}

TEST_F(Backups, BackupRoutesAsLxd) {
    std::string n = Lxmd::name("bkr");
    ASSERT_EQ(launch(*c_, n, false), "");
    ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/backups", json{{"name", ""}, {"compression_algorithm", "none"}}),
              "");
    ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/backups", json{{"name", "mine"}}), "");
    auto l = c_->get("/1.0/instances/" + n + "/backups");
    ASSERT_TRUE(l);
    EXPECT_EQ(*l, json::array({"/1.0/instances/" + n + "/backups/backup0", "/1.0/instances/" + n + "/backups/mine"}));
    auto dup = c_->post("/1.0/instances/" + n + "/backups", json{{"name", "mine"}});
    ASSERT_FALSE(dup);
    EXPECT_EQ(apitypes::http_status_of(dup.error()), 409);
    auto bad = c_->post("/1.0/instances/" + n + "/backups", json{{"compression_algorithm", "lz99"}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(apitypes::http_status_of(bad.error()), 400);
    ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/backups/mine", json{{"name", "other"}}), "");
    auto one = c_->get("/1.0/instances/" + n + "/backups/other");
    ASSERT_TRUE(one);
    EXPECT_EQ((*one)["name"], "other");
    // The export of an uncompressed backup is a plain tar.
    std::string out;
    auto dl = c_->download("/1.0/instances/" + n + "/backups/backup0/export", [&](std::string_view c) -> base::Result<void> {
        out.append(c);
        return {};
    });
    ASSERT_TRUE(dl) << apitypes::user_message(dl.error());
    ASSERT_GT(out.size(), 1024u);
    EXPECT_EQ(out.substr(257, 5), "ustar");
    EXPECT_EQ(out.substr(0, 6), "backup");
    // Expired backups go (with their pool snapshot) at the next listing.
    ASSERT_EQ(async("POST", "/1.0/instances/" + n + "/backups",
                    json{{"name", "short"}, {"expires_at", "2001-01-01T00:00:00Z"}}),
              "");
    l = c_->get("/1.0/instances/" + n + "/backups");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->size(), 2u) << l->dump();
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + n + "/backups/backup0"), "");
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + n + "/backups/other"), "");
    EXPECT_EQ(entries(pool() + "/containers/" + n + "/snapshots"), std::vector<std::string>{});
    auto gone = c_->get("/1.0/instances/" + n + "/backups/other");
    ASSERT_FALSE(gone);
    EXPECT_EQ(apitypes::http_status_of(gone.error()), 404);
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + n), "");
}

TEST_F(Backups, TruncatedOrCorruptFileLeavesNothing) {
    std::string n = Lxmd::name("bkt");
    ASSERT_EQ(launch(*c_, n, false), "");
    std::string file = files_.path() + "/t.tar.zst";
    CmdResult r = lxm("export " + n + " " + file);
    ASSERT_EQ(r.code, 0) << r.out;
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + n), "");
    auto containers_before = entries(pool() + "/containers");

    std::string cut = files_.path() + "/cut.tar.zst";
    ASSERT_EQ(sh("head -c " + std::to_string(st.st_size / 2) + " " + file + " > " + cut).code, 0);
    r = lxm("import " + cut);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("truncated or corrupt"), std::string::npos) << r.out;
    EXPECT_FALSE(exists(n));
    EXPECT_EQ(entries(pool() + "/containers"), containers_before);
    EXPECT_EQ(entries(pool() + "/tmp"), std::vector<std::string>{});
    auto list = c_->get("/1.0/instances");
    ASSERT_TRUE(list);
    EXPECT_TRUE(list->empty()) << list->dump();

    std::string junk = files_.path() + "/junk.tar";
    ASSERT_EQ(sh("head -c 100000 /dev/urandom > " + junk).code, 0);
    r = lxm("import " + junk);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.out.find("Invalid backup file"), std::string::npos) << r.out;
    EXPECT_EQ(entries(pool() + "/tmp"), std::vector<std::string>{});
    EXPECT_EQ(entries(pool() + "/containers"), containers_before);

    // An upload cut by the client mid-body (the connection closed): nothing left either,
    // once lxmd noticed (its cleanup runs when the connection ends).
    {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(fd, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::string sock = d_.state() + "/unix.socket";
        std::strncpy(a.sun_path, sock.c_str(), sizeof a.sun_path - 1);
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        auto whole = base::read_file(file, 1 << 30);
        ASSERT_TRUE(whole);
        std::string head = "POST /1.0/instances HTTP/1.1\r\nHost: lxd\r\nContent-Type: application/octet-stream\r\n"
                           "Content-Length: " + std::to_string(whole->size()) + "\r\n\r\n";
        std::string part = head + whole->substr(0, whole->size() / 2);
        ASSERT_EQ(::write(fd, part.data(), part.size()), static_cast<ssize_t>(part.size()));
        ::usleep(300 * 1000);
        ::close(fd);
        bool clean = false;
        for (int i = 0; i < 100 && !clean; ++i) {
            clean = entries(pool() + "/tmp").empty();
            if (!clean) ::usleep(100 * 1000);
        }
        EXPECT_TRUE(clean) << "tmp/ after a cut upload";
        EXPECT_FALSE(exists(n));
        EXPECT_EQ(entries(pool() + "/containers"), containers_before);
    }

    // The whole file still imports afterwards.
    r = lxm("import " + file);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(exists(n));
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + n), "");
}

TEST_F(Backups, LxcExportImport) {
    if (sh("command -v lxc").code != 0) GTEST_SKIP() << "lxc (package lxd-client) is not installed";
    std::string env = "HOME=" + home_.path() + " LXD_CONF=" + home_.path() + "/lxc LXD_SOCKET=" + d_.socket() +
                      " LXD_DIR=" + d_.state() + " ";
    auto lxc = [&](const std::string& args) { return sh(env + "timeout 300 lxc " + args); };
    std::string n = Lxmd::name("lxcbk");
    make_source(n);
    std::string file = files_.path() + "/lxc.tar.gz";
    CmdResult r = lxc("export " + n + " " + file);
    ASSERT_EQ(r.code, 0) << r.out << d_.log();
    r = lxc("delete --force " + n);
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("import " + file);
    ASSERT_EQ(r.code, 0) << r.out << d_.log();
    EXPECT_EQ(snapshot_names(n), (std::vector<std::string>{"s1", "s2"}));
    r = lxc("start " + n);
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("exec " + n + " -- cat /root/f");
    EXPECT_EQ(r.out, "three\n");
    std::string m = Lxmd::name("lxcbk2");
    r = lxc("import " + file + " " + m + " --storage default");
    ASSERT_EQ(r.code, 0) << r.out;
    r = lxc("delete --force " + n + " " + m);
    ASSERT_EQ(r.code, 0) << r.out;
}

}  // namespace
}  // namespace lxm::test
