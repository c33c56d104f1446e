// Images end to end through a real lxmd on a temp state dir and the real `lxm` CLI:
// the built-in busybox recipe is a real LXD-format image (fingerprint = sha256 of
// what export hands out), unified and split imports, export round trips with the
// same fingerprint, publish of an instance and of a snapshot then launch from the
// result, alias operations, and bad uploads (wrong fingerprint, truncated, not a
// tarball, hostile entries) answered 400 with nothing stored anywhere.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "lxm/base/file.hpp"
#include "lxm/base/spawn.hpp"
#include "store/image_store.hpp"
#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

std::set<std::string> dir_names(const std::string& dir) {
    std::set<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") out.insert(n);
        }
        ::closedir(d);
    }
    return out;
}

base::SpawnResult sh(const std::string& script, const std::string& cwd = "") {
    base::SpawnOptions o;
    o.argv = {"sh", "-c", script};
    o.cwd = cwd;
    o.timeout = std::chrono::minutes(5);
    auto r = base::spawn_capture(o);
    return r ? *r : base::SpawnResult{};
}

class Images : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        ASSERT_TRUE(d_.start({}, &why)) << why;
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
    }

    // The CLI against this lxmd: exit code, stdout and stderr.
    base::SpawnResult lxm(const std::vector<std::string>& args) {
        base::SpawnOptions o;
        o.argv = {bin("lxm")};
        o.argv.insert(o.argv.end(), args.begin(), args.end());
        o.env = {"LXM_DIR=" + d_.state()};
        o.timeout = std::chrono::minutes(10);
        auto r = base::spawn_capture(o);
        return r ? *r : base::SpawnResult{};
    }
    std::string alias_target(const std::string& a) {
        auto r = c_->get("/1.0/images/aliases/" + a);
        return r ? r->value("target", "") : "";
    }
    int get_status(const std::string& path) {
        auto r = c_->get(path);
        return r ? 200 : apitypes::http_status_of(r.error());
    }
    size_t image_count() {
        auto r = c_->get("/1.0/images");
        return r ? r->size() : 0;
    }
    std::string launch_from(const std::string& name, const std::string& alias) {
        auto r = c_->post("/1.0/instances",
                          json{{"name", name}, {"source", {{"type", "image"}, {"alias", alias}}}});
        if (!r) return apitypes::user_message(r.error());
        auto op = c_->wait_success(r->operation);
        if (!op) return apitypes::user_message(op.error());
        return change_state(*c_, name, "start");
    }
    // A raw upload; the HTTP status of the answer (200 for an accepted one) and its text.
    std::pair<int, std::string> upload(const std::vector<client::Client::BodyPart>& parts,
                                       const std::map<std::string, std::string>& headers) {
        auto r = c_->upload("POST", "/1.0/images", parts, headers);
        if (!r) return {apitypes::http_status_of(r.error()), apitypes::user_message(r.error())};
        return {200, r->metadata.dump()};
    }
    // busybox exported as a unified tarball into dir; its path.
    std::string export_busybox(const std::string& dir) {
        auto r = lxm({"image", "export", "busybox", dir});
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
        auto names = dir_names(dir);
        for (const auto& n : names)
            if (n.ends_with(".tar.gz")) return dir + "/" + n;
        return {};
    }

    Lxmd d_;
    std::optional<client::Client> c_;
};

TEST_F(Images, RecipeImageExportImportRoundTrip) {
    // First use builds (or takes the cached tarball of) the recipe: a real image afterwards.
    std::string n1 = Lxmd::name("img1");
    ASSERT_EQ(launch(*c_, n1, true), "");
    EXPECT_EQ(exec_code(*c_, n1, {"true"}), 0);
    std::string fp = alias_target("busybox");
    ASSERT_TRUE(store::valid_fingerprint(fp)) << fp;
    auto img = c_->get("/1.0/images/" + fp);
    ASSERT_TRUE(img);
    EXPECT_GT((*img)["size"].get<int64_t>(), 0);
    EXPECT_EQ((*img)["properties"]["os"], "busybox");
    EXPECT_EQ((*img)["properties"]["stop_signal"], "SIGUSR2");
    EXPECT_FALSE((*img)["properties"].contains("lxm.recipe"));
    EXPECT_EQ((*img)["architecture"], "x86_64");

    // Export: the file's sha256 is the fingerprint.
    TempDir out("export");
    std::string file = export_busybox(out.path());
    ASSERT_FALSE(file.empty());
    auto sum = store::sha256_files({file});
    ASSERT_TRUE(sum);
    EXPECT_EQ(*sum, fp);

    // Delete (the running instance keeps its root), import again: the same fingerprint; launch from it.
    auto del = lxm({"image", "delete", fp.substr(0, 12)});
    ASSERT_EQ(del.exit_code, 0) << del.err;
    EXPECT_EQ(get_status("/1.0/images/" + fp), 404);
    EXPECT_EQ(alias_target("busybox"), "");
    EXPECT_EQ(exec_code(*c_, n1, {"true"}), 0);
    auto imp = lxm({"image", "import", file, "--alias", "busybox"});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    EXPECT_NE(imp.out.find(fp), std::string::npos) << imp.out;
    EXPECT_EQ(alias_target("busybox"), fp);
    // A second import of the same bytes is a conflict.
    auto again = lxm({"image", "import", file});
    EXPECT_NE(again.exit_code, 0);
    EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
    std::string n2 = Lxmd::name("img2");
    ASSERT_EQ(launch_from(n2, "busybox"), "");
    EXPECT_EQ(exec_code(*c_, n2, {"test", "-x", "/bin/busybox"}), 0);

    // list/info through the CLI.
    auto ls = lxm({"image", "list"});
    EXPECT_EQ(ls.exit_code, 0);
    EXPECT_NE(ls.out.find(fp.substr(0, 12)), std::string::npos) << ls.out;
    auto info = lxm({"image", "info", "busybox"});
    EXPECT_EQ(info.exit_code, 0);
    EXPECT_NE(info.out.find("Fingerprint: " + fp), std::string::npos) << info.out;
}

TEST_F(Images, SplitImportExportAndLaunch) {
    std::string n0 = Lxmd::name("sp0");
    ASSERT_EQ(launch(*c_, n0, false), "");  // makes sure busybox is built
    TempDir work("split");
    std::string file = export_busybox(work.path());
    ASSERT_FALSE(file.empty());
    // Split it the way LXD's split images are: metadata.yaml (+templates) / the rootfs tree.
    auto r = sh("set -e; mkdir x; tar -C x -xzf '" + file +
                    "'; tar -C x -czf meta.tar.gz metadata.yaml $(cd x && ls -d templates 2>/dev/null);"
                    " tar -C x/rootfs --numeric-owner -czf rootfs.tar.gz .; rm -rf x",
                work.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string meta = work.path() + "/meta.tar.gz", rootfs = work.path() + "/rootfs.tar.gz";
    auto want = store::sha256_files({meta, rootfs});
    ASSERT_TRUE(want);

    auto imp = lxm({"image", "import", meta, rootfs, "--alias", "split"});
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    EXPECT_EQ(alias_target("split"), *want);

    // Export: multipart, two files with the very bytes imported.
    TempDir out("split-out");
    auto ex = lxm({"image", "export", "split", out.path() + "/img"});
    ASSERT_EQ(ex.exit_code, 0) << ex.err;
    auto got = store::sha256_files({out.path() + "/img", out.path() + "/img.root"});
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, *want);
    auto m1 = base::read_file(meta), m2 = base::read_file(out.path() + "/img");
    ASSERT_TRUE(m1 && m2);
    EXPECT_EQ(*m1, *m2);

    std::string n = Lxmd::name("split");
    ASSERT_EQ(launch_from(n, "split"), "");
    EXPECT_EQ(exec_code(*c_, n, {"test", "-x", "/bin/busybox"}), 0);
}

TEST_F(Images, PublishInstanceAndSnapshotThenLaunch) {
    std::string src = Lxmd::name("pubsrc");
    ASSERT_EQ(launch(*c_, src, true), "");
    ASSERT_EQ(exec_code(*c_, src, {"sh", "-c", "echo one > /root/marker && chown 1000:1000 /root/marker && rm /etc/group"}),
              0);
    // A running instance is refused (the CLI's message comes from the server).
    auto running = lxm({"publish", src, "--alias", "nope"});
    EXPECT_NE(running.exit_code, 0);
    EXPECT_NE(running.err.find("running"), std::string::npos) << running.err;

    ASSERT_EQ(change_state(*c_, src, "stop", true), "");
    auto pub = lxm({"publish", src, "--alias", "pub", "description=published"});
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    std::string fp = alias_target("pub");
    ASSERT_TRUE(store::valid_fingerprint(fp));
    auto img = c_->get("/1.0/images/" + fp);
    ASSERT_TRUE(img);
    EXPECT_EQ((*img)["properties"]["description"], "published");
    EXPECT_EQ((*img)["properties"]["os"], "busybox");  // from the instance's image.* keys

    std::string n = Lxmd::name("frompub");
    ASSERT_EQ(launch_from(n, "pub"), "");
    // Owners are the container's own again (not the source's host ids), deletions stay deleted.
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(cat /root/marker)\" = one"}), 0);
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(stat -c %u:%g /root/marker)\" = 1000:1000"}), 0);
    EXPECT_EQ(exec_code(*c_, n, {"sh", "-c", "test \"$(stat -c %u /bin/busybox)\" = 0"}), 0);
    EXPECT_EQ(exec_code(*c_, n, {"test", "-e", "/etc/group"}), 1);

    // A snapshot: its content, not the instance's later changes.
    auto snap = c_->post("/1.0/instances/" + src + "/snapshots", json{{"name", "s0"}});
    ASSERT_TRUE(snap);
    ASSERT_TRUE(c_->wait_success(snap->operation));
    ASSERT_EQ(change_state(*c_, src, "start"), "");
    ASSERT_EQ(exec_code(*c_, src, {"sh", "-c", "echo two > /root/marker"}), 0);
    auto ps = lxm({"publish", src + "/s0", "--alias", "pubsnap"});
    ASSERT_EQ(ps.exit_code, 0) << ps.err;
    std::string n3 = Lxmd::name("fromsnap");
    ASSERT_EQ(launch_from(n3, "pubsnap"), "");
    EXPECT_EQ(exec_code(*c_, n3, {"sh", "-c", "test \"$(cat /root/marker)\" = one"}), 0);
    EXPECT_EQ(exec_code(*c_, n3, {"sh", "-c", "test \"$(stat -c %u:%g /root/marker)\" = 1000:1000"}), 0);

    // Unknown sources are 404 before any operation.
    auto bad = c_->post("/1.0/images", json{{"source", {{"type", "instance"}, {"name", "no-such"}}}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(apitypes::http_status_of(bad.error()), 404);
}

TEST_F(Images, AliasOperations) {
    std::string n = Lxmd::name("al");
    ASSERT_EQ(launch(*c_, n, false), "");
    std::string fp = alias_target("busybox");
    ASSERT_TRUE(store::valid_fingerprint(fp));

    auto cr = lxm({"image", "alias", "create", "mine", fp.substr(0, 10), "--description", "first"});
    ASSERT_EQ(cr.exit_code, 0) << cr.err;
    auto a = c_->get("/1.0/images/aliases/mine");
    ASSERT_TRUE(a);
    EXPECT_EQ((*a)["target"], fp);
    EXPECT_EQ((*a)["description"], "first");
    // Duplicates 409, unknown targets 404, unknown aliases 404.
    auto dup = c_->post("/1.0/images/aliases", json{{"name", "mine"}, {"target", fp}});
    ASSERT_FALSE(dup);
    EXPECT_EQ(apitypes::http_status_of(dup.error()), 409);
    auto nt = c_->post("/1.0/images/aliases", json{{"name", "other"}, {"target", std::string(64, 'a')}});
    ASSERT_FALSE(nt);
    EXPECT_EQ(apitypes::http_status_of(nt.error()), 404);
    EXPECT_EQ(get_status("/1.0/images/aliases/none"), 404);

    // PATCH the description, PUT with a stale ETag is 412, rename by POST, names with '/'.
    ASSERT_TRUE(c_->patch("/1.0/images/aliases/mine", json{{"description", "second"}}));
    EXPECT_EQ((*c_->get("/1.0/images/aliases/mine"))["description"], "second");
    EXPECT_EQ((*c_->get("/1.0/images/aliases/mine"))["target"], fp);
    auto stale = c_->query("PUT", "/1.0/images/aliases/mine", json{{"target", fp}, {"description", "x"}},
                           {{"If-Match", "\"0000\""}});
    ASSERT_FALSE(stale);
    EXPECT_EQ(apitypes::http_status_of(stale.error()), 412);
    auto rn = lxm({"image", "alias", "rename", "mine", "team/mine"});
    ASSERT_EQ(rn.exit_code, 0) << rn.err;
    EXPECT_EQ(get_status("/1.0/images/aliases/mine"), 404);
    EXPECT_EQ(alias_target("team%2Fmine"), fp);
    EXPECT_EQ(alias_target("team/mine"), fp);
    auto ls = lxm({"image", "alias", "list"});
    EXPECT_NE(ls.out.find("team/mine"), std::string::npos) << ls.out;
    auto dl = lxm({"image", "alias", "delete", "team/mine"});
    ASSERT_EQ(dl.exit_code, 0) << dl.err;
    EXPECT_EQ(alias_target("team/mine"), "");
    // The image's own listing names its aliases.
    auto img = c_->get("/1.0/images/" + fp);
    ASSERT_TRUE(img);
    ASSERT_EQ((*img)["aliases"].size(), 1u);
    EXPECT_EQ((*img)["aliases"][0]["name"], "busybox");
    // PUT/PATCH of the image itself.
    ASSERT_TRUE(c_->patch("/1.0/images/" + fp, json{{"properties", {{"extra", "1"}}}}));
    img = c_->get("/1.0/images/" + fp);
    EXPECT_EQ((*img)["properties"]["extra"], "1");
    EXPECT_EQ((*img)["properties"]["os"], "busybox");
    ASSERT_TRUE(c_->put("/1.0/images/" + fp, json{{"properties", {{"os", "bb"}}}, {"public", true}}));
    img = c_->get("/1.0/images/" + fp);
    EXPECT_EQ((*img)["properties"], json({{"os", "bb"}}));
    EXPECT_EQ((*img)["public"], true);
}

TEST_F(Images, BadUploadsAreRefusedAndLeaveNothing) {
    std::string n = Lxmd::name("bad");
    ASSERT_EQ(launch(*c_, n, false), "");
    TempDir work("bad");
    std::string file = export_busybox(work.path());
    ASSERT_FALSE(file.empty());
    const size_t images_before = image_count();
    const auto store_before = dir_names(d_.state() + "/images");
    const auto pool_before = dir_names(d_.state() + "/storage-pools/default/images");
    auto nothing_left = [&](const std::string& what) {
        EXPECT_EQ(image_count(), images_before) << what;
        EXPECT_EQ(dir_names(d_.state() + "/images"), store_before) << what;
        EXPECT_EQ(dir_names(d_.state() + "/storage-pools/default/images"), pool_before) << what;
        auto tmp = dir_names(d_.state() + "/storage-pools/default/tmp");
        EXPECT_TRUE(tmp.empty()) << what;
    };
    const std::map<std::string, std::string> octet{{"Content-Type", "application/octet-stream"}};

    // Wrong fingerprint header.
    auto h = octet;
    h["X-LXD-fingerprint"] = std::string(64, '0');
    auto [s1, t1] = upload({{.data = "", .file = file}}, h);
    EXPECT_EQ(s1, 400) << t1;
    EXPECT_NE(t1.find("ingerprint"), std::string::npos) << t1;
    nothing_left("wrong fingerprint");

    // Truncated: the first half of a good tarball.
    auto whole = base::read_file(file, 64 << 20);
    ASSERT_TRUE(whole);
    std::string half = work.path() + "/half.tar.gz";
    ASSERT_TRUE(base::write_file(half, whole->substr(0, whole->size() / 2), true));
    auto [s2, t2] = upload({{.data = "", .file = half}}, octet);
    EXPECT_EQ(s2, 400) << t2;
    nothing_left("truncated");

    // Not a tarball at all.
    auto [s3, t3] = upload({{.data = "this is not an image", .file = ""}}, octet);
    EXPECT_EQ(s3, 400) << t3;
    nothing_left("garbage");

    // Hostile entries: a path climbing out, and a symlink to / followed by a file through it.
    std::string victim = work.path() + "/victim";
    const std::string py =
        "import io, tarfile, sys\n"
        "def add(t, name, data=b'', kind=tarfile.REGTYPE, link=''):\n"
        "    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; i.size = len(data)\n"
        "    t.addfile(i, io.BytesIO(data) if data else None)\n"
        "for mode, out in (('dotdot', sys.argv[1] + '/dotdot.tar.gz'), ('symlink', sys.argv[1] + '/symlink.tar.gz')):\n"
        "    with tarfile.open(out, 'w:gz') as t:\n"
        "        add(t, 'metadata.yaml', b'architecture: x86_64\\ncreation_date: 1700000000\\n')\n"
        "        i = tarfile.TarInfo('rootfs'); i.type = tarfile.DIRTYPE; t.addfile(i)\n"
        "        if mode == 'dotdot':\n"
        "            add(t, 'rootfs/../../../../../../..' + sys.argv[2], b'pwned')\n"
        "        else:\n"
        "            add(t, 'rootfs/evil', kind=tarfile.SYMTYPE, link='/')\n"
        "            add(t, 'rootfs/evil' + sys.argv[2], b'pwned')\n";
    ASSERT_TRUE(base::write_file(work.path() + "/mk.py", py, true));
    auto mk = sh("python3 mk.py '" + work.path() + "' '" + victim + "'", work.path());
    ASSERT_EQ(mk.exit_code, 0) << mk.err;
    for (const char* f : {"dotdot.tar.gz", "symlink.tar.gz"}) {
        auto [s, t] = upload({{.data = "", .file = work.path() + "/" + f}}, octet);
        EXPECT_EQ(s, 400) << f << ": " << t;
        EXPECT_FALSE(base::path_exists(victim)) << f;
        nothing_left(f);
    }

    // A multipart upload missing its rootfs part, and one cut short.
    std::string b = "xyzzyboundary";
    const std::map<std::string, std::string> mp{{"Content-Type", "multipart/form-data; boundary=" + b}};
    auto [s4, t4] = upload({{.data = "--" + b + "\r\nContent-Disposition: form-data; name=\"metadata\"; filename=\"m\"\r\n\r\n",
                             .file = ""},
                            {.data = "", .file = file},
                            {.data = "\r\n--" + b + "--\r\n", .file = ""}},
                           mp);
    EXPECT_EQ(s4, 400) << t4;
    auto [s5, t5] = upload({{.data = "--" + b + "\r\nContent-Disposition: form-data; name=\"metadata\"; filename=\"m\"\r\n\r\n",
                             .file = ""},
                            {.data = "", .file = file}},
                           mp);
    EXPECT_EQ(s5, 400) << t5;
    nothing_left("multipart");
    // No upload temp files stay behind in the store directory.
    for (const auto& name : dir_names(d_.state() + "/images")) EXPECT_FALSE(name.starts_with(".tmp-")) << name;
}

}  // namespace
}  // namespace lxm::test
