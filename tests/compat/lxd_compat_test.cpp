// Image exchange with the real LXD 5.0 (Debian packages lxd + lxd-client):
//   - images exported by LXD (`lxc image export`), split and unified, import into
//     lxm and launch there;
//   - images exported by lxm (unified, split, and one lxm published) import into
//     LXD and launch there.
// LXD runs as a private daemon of this test: its own LXD_DIR and LXD_CONF in a temp
// dir, started here and stopped by its pid, no network at all (so nothing probes
// for subnets), a dir pool inside LXD_DIR. At the end its containers are deleted,
// the daemon is stopped and every mount below LXD_DIR is removed with the dir.
//
// One command runs it: build-*/bin/lxm-e2e-tests --gtest_filter='LxdImageCompat.*'
// (ctest label e2e). It skips, saying why, without root, lxd or the busybox rootfs.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "store/image_store.hpp"
#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

bool have(const std::string& cmd) {
    base::SpawnOptions o;
    o.argv = {"sh", "-c", "command -v " + cmd};
    auto r = base::spawn_capture(o);
    return r && r->exit_code == 0;
}

// Mount points at or below dir, deepest first.
std::vector<std::string> mounts_below(const std::string& dir) {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ss(line);
        std::string f[5];
        for (auto& x : f) ss >> x;
        if (f[4] == dir || f[4].starts_with(dir + "/")) out.push_back(f[4]);
    }
    std::sort(out.rbegin(), out.rend());
    return out;
}

class Lxd {
public:
    Lxd() : dir_("lxd"), lxd_dir_(dir_ / "lxd"), conf_(dir_ / "conf") {}
    ~Lxd() { stop(); }

    bool start(std::string* why) {
        (void)base::mkdir_p(lxd_dir_, 0711);
        (void)base::mkdir_p(conf_, 0700);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::setenv("LXD_DIR", lxd_dir_.c_str(), 1);
            ::setenv("LXD_CONF", conf_.c_str(), 1);
            std::string log = dir_ / "lxd.log";
            int fd = ::open((dir_ / "lxd.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            ::execlp("lxd", "lxd", "--group", "root", "--logfile", log.c_str(), nullptr);
            ::_exit(127);
        }
        auto ready = run({"lxd", "waitready", "--timeout=120"});
        if (ready.exit_code != 0) {
            *why = "lxd did not get ready: " + ready.err + read(dir_ / "lxd.out");
            return false;
        }
        (void)run({"lxc", "list"});  // the client's first-use greeting
        // No networks, a dir pool in LXD_DIR, a default profile with just the root disk.
        std::string preseed =
            "config: {}\nnetworks: []\nstorage_pools:\n- name: default\n  driver: dir\n"
            "profiles:\n- name: default\n  devices:\n    root:\n      path: /\n      pool: default\n      type: disk\n";
        auto init = run({"lxd", "init", "--preseed"}, preseed);
        if (init.exit_code != 0) {
            *why = "lxd init --preseed: " + init.out + init.err;
            return false;
        }
        return true;
    }

    base::SpawnResult run(const std::vector<std::string>& argv, const std::string& stdin_data = "") {
        base::SpawnOptions o;
        o.argv = argv;
        o.env = {"LXD_DIR=" + lxd_dir_, "LXD_CONF=" + conf_};
        o.stdin_data = stdin_data;
        o.timeout = std::chrono::minutes(5);
        auto r = base::spawn_capture(o);
        return r ? *r : base::SpawnResult{};
    }
    base::SpawnResult lxc(const std::vector<std::string>& args) {
        std::vector<std::string> argv{"lxc"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv);
    }

    void stop() {
        if (pid_ <= 0) return;
        if (::kill(pid_, 0) == 0) {
            auto names = lxc({"list", "--format", "csv", "-c", "n"});
            std::istringstream ss(names.out);
            std::string n;
            while (std::getline(ss, n))
                if (!n.empty()) (void)lxc({"delete", "--force", n});
            ::kill(pid_, SIGTERM);
            for (int i = 0; i < 300; ++i) {
                if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                    pid_ = -1;
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            if (pid_ > 0) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, nullptr, 0);
            }
        } else {
            ::waitpid(pid_, nullptr, 0);
        }
        pid_ = -1;
        for (const auto& m : mounts_below(lxd_dir_)) ::umount2(m.c_str(), MNT_DETACH);
    }
    const std::string& dir() const { return lxd_dir_; }
    std::string log() { return read(dir_ / "lxd.log"); }

private:
    static std::string read(const std::string& p) {
        auto t = base::read_file(p, 1 << 20);
        return t ? *t : std::string();
    }
    TempDir dir_;
    std::string lxd_dir_, conf_;
    pid_t pid_ = -1;
};

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") out.push_back(dir + "/" + n);
        }
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

class LxdImageCompat : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        if (!have("lxd") || !have("lxc")) GTEST_SKIP() << "LXD is not installed (apt-get install lxd lxd-client)";
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        ASSERT_TRUE(d_.start({}, &why)) << why;
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
        lxd_.emplace();
        ASSERT_TRUE(lxd_->start(&why)) << why;
    }
    void TearDown() override { lxd_.reset(); }

    base::SpawnResult lxm(const std::vector<std::string>& args) {
        base::SpawnOptions o;
        o.argv = {bin("lxm")};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = {"LXM_DIR=" + d_.state()};
        o.timeout = std::chrono::minutes(10);
        auto r = base::spawn_capture(o);
        return r ? *r : base::SpawnResult{};
    }
    base::SpawnResult sh(const std::string& script, const std::string& cwd) {
        base::SpawnOptions o;
        o.argv = {"sh", "-c", script};
        o.cwd = cwd;
        o.timeout = std::chrono::minutes(5);
        auto r = base::spawn_capture(o);
        return r ? *r : base::SpawnResult{};
    }
    // Launch in lxm from an alias and run a command: "" or what went wrong.
    std::string lxm_launch_check(const std::string& alias) {
        std::string n = Lxmd::name("c-" + alias);
        auto r = c_->post("/1.0/instances", json{{"name", n}, {"source", {{"type", "image"}, {"alias", alias}}}});
        if (!r) return apitypes::user_message(r.error());
        auto op = c_->wait_success(r->operation);
        if (!op) return apitypes::user_message(op.error());
        if (auto e = change_state(*c_, n, "start"); !e.empty()) return e;
        int code = exec_code(*c_, n, {"sh", "-c", "test -x /bin/busybox && test -f /etc/inittab"});
        if (code != 0) return "exec in " + n + " returned " + std::to_string(code);
        return {};
    }
    // Launch in LXD from an alias and run a command there: "" or what went wrong.
    std::string lxd_launch_check(const std::string& alias) {
        std::string n = "c-" + alias;
        auto l = lxd_->lxc({"launch", alias, n});
        if (l.exit_code != 0) return "lxc launch: " + l.out + l.err;
        base::SpawnResult e;
        for (int i = 0; i < 50; ++i) {  // exec may race the container's init for a moment
            e = lxd_->lxc({"exec", n, "--", "sh", "-c", "test -x /bin/busybox && test -f /etc/inittab"});
            if (e.exit_code == 0) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        if (e.exit_code != 0) return "lxc exec: " + e.out + e.err;
        auto st = lxd_->lxc({"list", n, "--format", "csv", "-c", "s"});
        if (st.out.find("RUNNING") == std::string::npos) return "LXD shows " + st.out;
        (void)lxd_->lxc({"delete", "--force", n});
        return {};
    }

    Lxmd d_;
    std::optional<client::Client> c_;
    std::optional<Lxd> lxd_;
};

TEST_F(LxdImageCompat, ImagesTravelBothWays) {
    // lxm's busybox image, unified, and a split form of it.
    ASSERT_EQ(launch(*c_, Lxmd::name("seed"), false), "");
    TempDir work("compat");
    const std::string w = work.path();
    auto ex = lxm({"image", "export", "busybox", w + "/lxm-unified.tar.gz"});
    ASSERT_EQ(ex.exit_code, 0) << ex.err;
    auto split = sh("set -e; mkdir x; tar -C x -xzf lxm-unified.tar.gz; tar -C x -cJf meta.tar.xz metadata.yaml templates;"
                    " tar -C x/rootfs --numeric-owner -cJf rootfs.tar.xz .; rm -rf x",
                    w);
    ASSERT_EQ(split.exit_code, 0) << split.err;

    // ---- lxm → LXD: unified as lxm exports it.
    auto i1 = lxd_->lxc({"image", "import", w + "/lxm-unified.tar.gz", "--alias", "from-lxm"});
    ASSERT_EQ(i1.exit_code, 0) << i1.out << i1.err << lxd_->log();
    EXPECT_EQ(lxd_launch_check("from-lxm"), "");
    // The fingerprint LXD computed is lxm's.
    auto info = lxd_->lxc({"image", "info", "from-lxm"});
    auto lxm_fp = c_->get("/1.0/images/aliases/busybox");
    ASSERT_TRUE(lxm_fp);
    EXPECT_NE(info.out.find((*lxm_fp)["target"].get<std::string>()), std::string::npos) << info.out;

    // lxm → LXD: split, through lxm's store (import split into lxm, export from lxm).
    auto li = lxm({"image", "import", w + "/meta.tar.xz", w + "/rootfs.tar.xz", "--alias", "bb-split"});
    ASSERT_EQ(li.exit_code, 0) << li.err;
    ASSERT_EQ(base::mkdir_p(w + "/lxm-split", 0755).has_value(), true);
    auto le = lxm({"image", "export", "bb-split", w + "/lxm-split"});
    ASSERT_EQ(le.exit_code, 0) << le.err;
    auto parts = files_in(w + "/lxm-split");
    ASSERT_EQ(parts.size(), 2u);
    std::string meta = parts[0].find("/meta-") != std::string::npos ? parts[0] : parts[1];
    std::string rootfs = meta == parts[0] ? parts[1] : parts[0];
    auto i2 = lxd_->lxc({"image", "import", meta, rootfs, "--alias", "from-lxm-split"});
    ASSERT_EQ(i2.exit_code, 0) << i2.out << i2.err;
    EXPECT_EQ(lxd_launch_check("from-lxm-split"), "");

    // lxm → LXD: an image lxm published from an instance.
    std::string pubsrc = Lxmd::name("pubsrc");
    ASSERT_EQ(launch(*c_, pubsrc, false), "");
    auto pub = lxm({"publish", pubsrc, "--alias", "lxm-pub"});
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    auto pe = lxm({"image", "export", "lxm-pub", w + "/lxm-pub.tar.gz"});
    ASSERT_EQ(pe.exit_code, 0) << pe.err;
    auto i3 = lxd_->lxc({"image", "import", w + "/lxm-pub.tar.gz", "--alias", "from-lxm-pub"});
    ASSERT_EQ(i3.exit_code, 0) << i3.out << i3.err;
    EXPECT_EQ(lxd_launch_check("from-lxm-pub"), "");

    // ---- LXD → lxm: split as LXD exports it (LXD keeps the split form it got).
    ASSERT_EQ(base::mkdir_p(w + "/lxd-split", 0755).has_value(), true);
    auto e1 = lxd_->lxc({"image", "export", "from-lxm-split", w + "/lxd-split/"});
    ASSERT_EQ(e1.exit_code, 0) << e1.out << e1.err;
    auto lparts = files_in(w + "/lxd-split");
    ASSERT_EQ(lparts.size(), 2u) << e1.out;
    // Which is which: the metadata tarball holds metadata.yaml.
    auto probe = sh("tar -tf '" + lparts[0] + "' 2>/dev/null | grep -qx 'metadata.yaml'", w);
    std::string lmeta = probe.exit_code == 0 ? lparts[0] : lparts[1];
    std::string lroot = lmeta == lparts[0] ? lparts[1] : lparts[0];
    auto m1 = lxm({"image", "delete", "bb-split"});  // the same bytes: make room for LXD's copy
    ASSERT_EQ(m1.exit_code, 0) << m1.err;
    auto m2 = lxm({"image", "import", lmeta, lroot, "--alias", "from-lxd-split"});
    ASSERT_EQ(m2.exit_code, 0) << m2.err;
    EXPECT_EQ(lxm_launch_check("from-lxd-split"), "");

    // LXD → lxm: unified, made by LXD itself (publish of an instance), as LXD exports it.
    auto ini = lxd_->lxc({"init", "from-lxm", "lxdsrc"});
    ASSERT_EQ(ini.exit_code, 0) << ini.out << ini.err;
    auto lp = lxd_->lxc({"publish", "lxdsrc", "--alias", "lxd-pub"});
    ASSERT_EQ(lp.exit_code, 0) << lp.out << lp.err;
    ASSERT_EQ(base::mkdir_p(w + "/lxd-unified", 0755).has_value(), true);
    auto e2 = lxd_->lxc({"image", "export", "lxd-pub", w + "/lxd-unified/"});
    ASSERT_EQ(e2.exit_code, 0) << e2.out << e2.err;
    auto uparts = files_in(w + "/lxd-unified");
    ASSERT_EQ(uparts.size(), 1u) << e2.out;
    auto fp = store::sha256_files({uparts[0]});
    ASSERT_TRUE(fp);
    auto m3 = lxm({"image", "import", uparts[0], "--alias", "from-lxd"});
    ASSERT_EQ(m3.exit_code, 0) << m3.err;
    EXPECT_NE(m3.out.find(*fp), std::string::npos) << m3.out;  // LXD's fingerprint is lxm's
    EXPECT_EQ(lxm_launch_check("from-lxd"), "");
}

}  // namespace
}  // namespace lxm::test

namespace lxm::test {
namespace {

// The unmodified `lxc` client against lxmd (LXD_SOCKET): image export (unified and split),
// import (unified and split), alias and publish commands speak lxmd's image API.
TEST(LxcClientImages, ExportImportPublishThroughLxc) {
    LXM_REQUIRE_ROOT();
    if (!have("lxc")) GTEST_SKIP() << "the lxc client is not installed (apt-get install lxd-client)";
    std::string why;
    if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
    Lxmd d;
    ASSERT_TRUE(d.start({}, &why)) << why;
    auto c = d.client();
    ASSERT_TRUE(c);
    TempDir conf("lxc-conf");
    TempDir work("lxc-images");
    const std::string w = work.path();
    auto lxc = [&](const std::vector<std::string>& args) {
        base::SpawnOptions o;
        o.argv = {"lxc"};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = {"LXD_SOCKET=" + d.socket(), "LXD_CONF=" + conf.path()};
        o.timeout = std::chrono::minutes(5);
        auto r = base::spawn_capture(o);
        return r ? *r : base::SpawnResult{};
    };
    std::string n = Lxmd::name("lxcimg");
    ASSERT_EQ(launch(*c, n, false), "");
    std::string fp = (*c->get("/1.0/images/aliases/busybox"))["target"];

    // Unified export through lxc: the fingerprint checks out on the client side too.
    ASSERT_TRUE(base::mkdir_p(w + "/u", 0755));
    auto ex = lxc({"image", "export", "busybox", w + "/u/"});
    ASSERT_EQ(ex.exit_code, 0) << ex.out << ex.err;
    auto files = files_in(w + "/u");
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(*store::sha256_files({files[0]}), fp);

    // Unified import through lxc (as a second copy under another fingerprint: recompress it).
    base::SpawnOptions rz;
    rz.argv = {"sh", "-c", "gzip -dc '" + files[0] + "' | gzip -1 > '" + w + "/re.tar.gz'"};
    ASSERT_TRUE(base::spawn_checked(rz));
    auto im = lxc({"image", "import", w + "/re.tar.gz", "--alias", "via-lxc"});
    ASSERT_EQ(im.exit_code, 0) << im.out << im.err;
    auto a = c->get("/1.0/images/aliases/via-lxc");
    ASSERT_TRUE(a) << im.out;
    EXPECT_EQ((*a)["target"], *store::sha256_files({w + "/re.tar.gz"}));

    // Split import and export through lxc.
    base::SpawnOptions sp;
    sp.argv = {"sh", "-c",
               "set -e; cd '" + w + "'; mkdir x; tar -C x -xzf '" + files[0] +
                   "'; tar -C x -czf meta.tar.gz metadata.yaml; tar -C x/rootfs --numeric-owner -czf rootfs.tar.gz .;"
                   " rm -rf x"};
    ASSERT_TRUE(base::spawn_checked(sp));
    auto is = lxc({"image", "import", w + "/meta.tar.gz", w + "/rootfs.tar.gz", "--alias", "split-lxc"});
    ASSERT_EQ(is.exit_code, 0) << is.out << is.err;
    std::string sfp = *store::sha256_files({w + "/meta.tar.gz", w + "/rootfs.tar.gz"});
    EXPECT_EQ((*c->get("/1.0/images/aliases/split-lxc"))["target"], sfp);
    ASSERT_TRUE(base::mkdir_p(w + "/s", 0755));
    auto es = lxc({"image", "export", "split-lxc", w + "/s/"});
    ASSERT_EQ(es.exit_code, 0) << es.out << es.err;
    auto sfiles = files_in(w + "/s");
    ASSERT_EQ(sfiles.size(), 2u);
    std::string meta = sfiles[0].find("/meta-") != std::string::npos ? sfiles[0] : sfiles[1];
    std::string root = meta == sfiles[0] ? sfiles[1] : sfiles[0];
    EXPECT_EQ(*store::sha256_files({meta, root}), sfp);

    // Aliases and listing through lxc; publish of a stopped instance with an alias.
    auto al = lxc({"image", "alias", "create", "lxc-alias", fp});
    EXPECT_EQ(al.exit_code, 0) << al.err;
    EXPECT_EQ((*c->get("/1.0/images/aliases/lxc-alias"))["target"], fp);
    auto ls = lxc({"image", "list", "--format", "csv"});
    EXPECT_NE(ls.out.find(fp.substr(0, 12)), std::string::npos) << ls.out << ls.err;
    auto pub = lxc({"publish", n, "--alias", "lxc-pub"});
    ASSERT_EQ(pub.exit_code, 0) << pub.out << pub.err;
    auto p = c->get("/1.0/images/aliases/lxc-pub");
    ASSERT_TRUE(p) << pub.out;
    auto del = lxc({"image", "delete", "lxc-pub"});
    EXPECT_EQ(del.exit_code, 0) << del.err;
    EXPECT_FALSE(c->get("/1.0/images/aliases/lxc-pub"));
}

}  // namespace
}  // namespace lxm::test
