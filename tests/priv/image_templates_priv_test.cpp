// Applying image file templates into a hostile instance root (lxm/core/image_templates.hpp):
// triggers, create_only, owners as the container's root, modes, parent dirs,
// symlinks planted in the root (parents and leaf), a directory at the target,
// bad templates that write nothing, the set kept in an instance dir, and a set
// read from an image imported into a real ImageStore.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "lxm/base/file.hpp"
#include "lxm/core/image_templates.hpp"
#include "store/image_store.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm;
using lxm::test::TempDir;

namespace {

constexpr uint32_t kBase = 3300000;

std::string slurp(const std::string& p) { return base::read_file(p).value_or("<missing>"); }

struct Stat {
    bool ok = false;
    struct stat st {};
};
Stat lstat_of(const std::string& p) {
    Stat s;
    s.ok = ::lstat(p.c_str(), &s.st) == 0;
    return s;
}

core::InstanceRoot root_at(const std::string& dir, bool privileged = false) {
    core::InstanceRoot r;
    r.root.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    r.privileged = privileged;
    r.id_base = kBase;
    r.id_size = 65536;
    return r;
}

store::ImageTemplate rule(std::vector<std::string> when, std::string file, bool create_only = false,
                          std::map<std::string, std::string> props = {}) {
    store::ImageTemplate t;
    t.when = std::move(when);
    t.template_file = std::move(file);
    t.create_only = create_only;
    t.properties = std::move(props);
    return t;
}

// The Debian recipe's set, as the built-in image carries it.
core::TemplateSet debian_like() {
    core::TemplateSet s;
    s.metadata.architecture = "x86_64";
    s.metadata.creation_date = 1700000000;
    s.metadata.templates["/etc/hostname"] = rule({"create", "copy"}, "hostname.tpl");
    s.metadata.templates["/etc/hosts"] = rule({"create", "copy"}, "hosts.tpl");
    s.metadata.templates["/etc/systemd/network/eth0.network"] = rule({"create"}, "eth0.tpl");
    s.metadata.templates["/etc/motd"] = rule({"start"}, "motd.tpl", false, {{"greeting", "hello"}});
    s.metadata.templates["/etc/keep.conf"] = rule({"create"}, "keep.tpl", true);
    s.files["hostname.tpl"] = "{{ container.name }}\n";
    s.files["hosts.tpl"] = "127.0.0.1\tlocalhost\n127.0.1.1\t{{ instance.name }}\n";
    s.files["eth0.tpl"] = "[Match]\nName={% if instance.type == \"virtual-machine\" %}enp5s0{% else %}eth0{% endif %}\n"
                          "[Network]\nDHCP=yes\n";
    s.files["motd.tpl"] = "{{ properties.greeting }} from {{ trigger }} at {{ path }}\n";
    s.files["keep.tpl"] = "generated\n";
    return s;
}

core::TemplateContext ctx_for(const std::string& name) {
    return core::template_context(name, "x86_64", false, false, {{"user.x", "1"}}, {});
}

class ImageTemplates : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown to the container's host ids)";
        root_ = t_ / "rootfs";
        ASSERT_TRUE(base::mkdir_p(root_ + "/etc"));
        ASSERT_TRUE(base::write_file(root_ + "/etc/hostname", "image-name\n", true));
    }
    TempDir t_{"tpl"};
    std::string root_;
};

TEST_F(ImageTemplates, CreateWritesFilesOwnedByTheContainersRoot) {
    auto r = root_at(root_);
    auto w = core::apply_templates(r, debian_like(), "create", ctx_for("web1"));
    ASSERT_TRUE(w) << w.error().message();
    EXPECT_EQ(*w, (std::vector<std::string>{"/etc/hostname", "/etc/hosts", "/etc/keep.conf",
                                            "/etc/systemd/network/eth0.network"}));
    EXPECT_EQ(slurp(root_ + "/etc/hostname"), "web1\n");
    EXPECT_EQ(slurp(root_ + "/etc/hosts"), "127.0.0.1\tlocalhost\n127.0.1.1\tweb1\n");
    EXPECT_EQ(slurp(root_ + "/etc/systemd/network/eth0.network"), "[Match]\nName=eth0\n[Network]\nDHCP=yes\n");
    EXPECT_FALSE(base::path_exists(root_ + "/etc/motd"));  // start only
    // New files and the directories made for them belong to the container's root.
    for (const char* p : {"/etc/hosts", "/etc/systemd/network/eth0.network", "/etc/keep.conf"}) {
        auto s = lstat_of(root_ + p);
        ASSERT_TRUE(s.ok) << p;
        EXPECT_EQ(s.st.st_uid, kBase) << p;
        EXPECT_EQ(s.st.st_gid, kBase) << p;
        EXPECT_EQ(s.st.st_mode & 07777, 0644u) << p;
        EXPECT_TRUE(S_ISREG(s.st.st_mode)) << p;
    }
    for (const char* d : {"/etc/systemd", "/etc/systemd/network"}) {
        auto s = lstat_of(root_ + d);
        ASSERT_TRUE(s.ok && S_ISDIR(s.st.st_mode)) << d;
        EXPECT_EQ(s.st.st_uid, kBase) << d;
        EXPECT_EQ(s.st.st_mode & 07777, 0755u) << d;
    }
    // An existing file keeps its owner and mode (the image's root:root 0644 here).
    auto h = lstat_of(root_ + "/etc/hostname");
    EXPECT_EQ(h.st.st_uid, 0u);
    // No temporary file is left behind.
    for (auto& e : std::filesystem::directory_iterator(root_ + "/etc"))
        EXPECT_FALSE(e.path().filename().string().starts_with(".lxm-template")) << e.path();

    // start: only the start template, with its properties, trigger and path.
    auto s = core::apply_templates(r, debian_like(), "start", ctx_for("web1"));
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(*s, std::vector<std::string>{"/etc/motd"});
    EXPECT_EQ(slurp(root_ + "/etc/motd"), "hello from start at /etc/motd\n");
    // A trigger no template lists writes nothing.
    auto n = core::apply_templates(r, debian_like(), "rename", ctx_for("web1"));
    ASSERT_TRUE(n);
    EXPECT_TRUE(n->empty());
}

TEST_F(ImageTemplates, PrivilegedInstanceFilesBelongToHostRoot) {
    auto r = root_at(root_, true);
    ASSERT_TRUE(core::apply_templates(r, debian_like(), "create", ctx_for("p1")));
    auto s = lstat_of(root_ + "/etc/hosts");
    EXPECT_EQ(s.st.st_uid, 0u);
    EXPECT_EQ(s.st.st_gid, 0u);
}

TEST_F(ImageTemplates, CreateOnlyKeepsWhatExistsAndExistingFilesKeepOwnerAndMode) {
    ASSERT_TRUE(base::write_file(root_ + "/etc/keep.conf", "mine\n", true));
    ASSERT_TRUE(base::write_file(root_ + "/etc/hosts", "old\n", true));
    ASSERT_EQ(::chown((root_ + "/etc/hosts").c_str(), kBase + 5, kBase + 6), 0);
    ASSERT_EQ(::chmod((root_ + "/etc/hosts").c_str(), 0600), 0);
    auto r = root_at(root_);
    auto w = core::apply_templates(r, debian_like(), "create", ctx_for("c2"));
    ASSERT_TRUE(w) << w.error().message();
    EXPECT_EQ(slurp(root_ + "/etc/keep.conf"), "mine\n");
    EXPECT_EQ(std::count(w->begin(), w->end(), "/etc/keep.conf"), 0);
    EXPECT_EQ(slurp(root_ + "/etc/hosts"), "127.0.0.1\tlocalhost\n127.0.1.1\tc2\n");
    auto s = lstat_of(root_ + "/etc/hosts");
    EXPECT_EQ(s.st.st_uid, kBase + 5);
    EXPECT_EQ(s.st.st_gid, kBase + 6);
    EXPECT_EQ(s.st.st_mode & 07777, 0600u);
    // create_only also counts a dangling symlink as existing (nothing is written through it).
    ASSERT_EQ(::unlink((root_ + "/etc/keep.conf").c_str()), 0);
    ASSERT_EQ(::symlink("/nowhere", (root_ + "/etc/keep.conf").c_str()), 0);
    ASSERT_TRUE(core::apply_templates(r, debian_like(), "create", ctx_for("c2")));
    EXPECT_TRUE(S_ISLNK(lstat_of(root_ + "/etc/keep.conf").st.st_mode));
}

TEST_F(ImageTemplates, SymlinksPlantedInTheRootStayInside) {
    // Outside the root: files a hostile container would like to overwrite.
    std::string outside = t_ / "host";
    ASSERT_TRUE(base::mkdir_p(outside + "/etc"));
    ASSERT_TRUE(base::write_file(outside + "/victim", "host data\n", true));
    ASSERT_TRUE(base::write_file(outside + "/etc/hosts", "host hosts\n", true));
    // The leaf is a symlink to an absolute host path and to a relative escape.
    ASSERT_EQ(::unlink((root_ + "/etc/hostname").c_str()), 0);
    ASSERT_EQ(::symlink((outside + "/victim").c_str(), (root_ + "/etc/hostname").c_str()), 0);
    ASSERT_EQ(::symlink("../../../../../../../../host/victim", (root_ + "/etc/hosts").c_str()), 0);
    // A parent directory is a symlink escaping upwards: it resolves inside the root.
    ASSERT_TRUE(base::mkdir_p(root_ + "/host/etc"));
    ASSERT_EQ(::symlink("../../../../../../../../host/etc", (root_ + "/etc/systemd").c_str()), 0);
    auto r = root_at(root_);
    auto w = core::apply_templates(r, debian_like(), "create", ctx_for("evil"));
    ASSERT_TRUE(w) << w.error().message();
    EXPECT_EQ(slurp(outside + "/victim"), "host data\n");
    EXPECT_EQ(slurp(outside + "/etc/hosts"), "host hosts\n");
    EXPECT_FALSE(base::path_exists(outside + "/etc/network"));
    // The symlinks at the targets were replaced by regular files.
    EXPECT_TRUE(S_ISREG(lstat_of(root_ + "/etc/hostname").st.st_mode));
    EXPECT_EQ(slurp(root_ + "/etc/hostname"), "evil\n");
    EXPECT_TRUE(S_ISREG(lstat_of(root_ + "/etc/hosts").st.st_mode));
    // ../../ from /etc clamps at the root: /etc/systemd -> /host/etc inside the root.
    EXPECT_EQ(slurp(root_ + "/host/etc/network/eth0.network"), "[Match]\nName=eth0\n[Network]\nDHCP=yes\n");
}

TEST_F(ImageTemplates, DirectoryAtTargetIsAnError) {
    ASSERT_TRUE(base::mkdir_p(root_ + "/etc/hosts"));
    auto r = root_at(root_);
    auto w = core::apply_templates(r, debian_like(), "create", ctx_for("d"));
    ASSERT_FALSE(w);
    EXPECT_NE(w.error().message().find("/etc/hosts is a directory"), std::string::npos) << w.error().message();
}

TEST_F(ImageTemplates, BadTemplateWritesNothing) {
    auto set = debian_like();
    set.files["hosts.tpl"] = "127.0.0.1 localhost\n{% for h in config %}{{ h }}{% endfor %}\n";
    auto r = root_at(root_);
    auto w = core::apply_templates(r, set, "create", ctx_for("x"));
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().context, "template hosts.tpl:2: unknown tag 'for' (supported: if, elif, else, endif, autoescape)");
    EXPECT_EQ(slurp(root_ + "/etc/hostname"), "image-name\n");  // rendered before anything is written
    EXPECT_FALSE(base::path_exists(root_ + "/etc/systemd"));

    auto missing = debian_like();
    missing.files.erase("eth0.tpl");
    auto m = core::apply_templates(r, missing, "create", ctx_for("x"));
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message().find("eth0.tpl"), std::string::npos);

    auto bad_path = debian_like();
    bad_path.metadata.templates["/etc/../../escape"] = rule({"create"}, "hosts.tpl");
    auto b = core::apply_templates(r, bad_path, "create", ctx_for("x"));
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message().find("contains '..'"), std::string::npos);
}

TEST_F(ImageTemplates, KeptInTheInstanceDir) {
    std::string dir = t_ / "instance";
    ASSERT_TRUE(base::mkdir_p(dir));
    auto none = core::load_template_set(dir);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    ASSERT_TRUE(core::save_template_set(dir, debian_like()));
    auto back = core::load_template_set(dir);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->files, debian_like().files);
    EXPECT_EQ(back->metadata.templates.size(), 5u);
    EXPECT_TRUE(back->metadata.templates.at("/etc/keep.conf").create_only);
    EXPECT_EQ(back->metadata.templates.at("/etc/motd").properties.at("greeting"), "hello");
    EXPECT_TRUE(back->has_trigger("start"));
    EXPECT_FALSE(back->has_trigger("rename"));
}

TEST_F(ImageTemplates, FromAnImageInTheImageStore) {
    std::string tree = t_ / "tree";
    ASSERT_TRUE(base::mkdir_p(tree + "/etc"));
    ASSERT_TRUE(base::write_file(tree + "/etc/hostname", "box\n", true));
    auto set = debian_like();
    store::PackOptions po;
    po.template_files = set.files;
    auto st = store::ImageStore::open(t_ / "images");
    ASSERT_TRUE(st) << st.error().message();
    auto img = st->import_rootfs_dir(tree, set.metadata, po);
    ASSERT_TRUE(img) << img.error().message();
    auto got = core::image_template_set(*st, img->fingerprint);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->files, set.files);
    EXPECT_EQ(got->metadata.templates.size(), set.metadata.templates.size());
    // Unpack the image as an instance root and apply its create templates.
    std::string inst = t_ / "inst";
    ASSERT_TRUE(base::mkdir_p(inst));
    ASSERT_TRUE(st->unpack_rootfs(img->fingerprint, inst));
    auto r = root_at(inst);
    ASSERT_TRUE(core::apply_templates(r, *got, "create", ctx_for("fromstore")));
    EXPECT_EQ(slurp(inst + "/etc/hostname"), "fromstore\n");
    EXPECT_EQ(slurp(inst + "/etc/hosts"), "127.0.0.1\tlocalhost\n127.0.1.1\tfromstore\n");
}

}  // namespace
