// Image store: LXD fingerprints, metadata.yaml, safe unpacking of hostile
// tarballs (each trick its own test: nothing may appear outside the target),
// packing a rootfs into a unified image and exporting split images unified.
#include <gtest/gtest.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "lxm/base/file.hpp"
#include "store/image_store.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm;
using namespace lxm::store;
using lxm::test::TempDir;

namespace {

struct TarEntry {
    std::string name{};
    mode_t type = AE_IFREG;
    std::string data{};
    mode_t perm = 0644;
    std::string link{};      // symlink target
    std::string hardlink{};  // hard link target
    uint32_t uid = 0, gid = 0;
    dev_t rdev = 0;
    std::vector<std::pair<std::string, std::string>> xattrs{};
};

void write_tar(const std::string& path, const std::vector<TarEntry>& entries, bool gzip = false) {
    struct archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gzip) archive_write_add_filter_gzip(a);
    ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
    for (const auto& t : entries) {
        struct archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, t.name.c_str());
        archive_entry_set_filetype(e, t.type);
        archive_entry_set_perm(e, t.perm);
        archive_entry_set_uid(e, t.uid);
        archive_entry_set_gid(e, t.gid);
        archive_entry_set_mtime(e, 1700000000, 0);
        if (!t.link.empty()) archive_entry_set_symlink(e, t.link.c_str());
        if (!t.hardlink.empty()) archive_entry_set_hardlink(e, t.hardlink.c_str());
        if (t.rdev) archive_entry_set_rdev(e, t.rdev);
        for (const auto& [k, v] : t.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
        archive_entry_set_size(e, t.type == AE_IFREG && t.hardlink.empty() ? static_cast<la_int64_t>(t.data.size()) : 0);
        ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << t.name;
        if (t.type == AE_IFREG && !t.data.empty() && t.hardlink.empty())
            archive_write_data(a, t.data.data(), t.data.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

const char* kMeta =
    "architecture: x86_64\n"
    "creation_date: 1424284563\n"
    "properties:\n"
    "  description: Test image\n"
    "  os: Debian\n"
    "  release: \"12\"\n"
    "templates:\n"
    "  /etc/hostname:\n"
    "    when:\n"
    "    - create\n"
    "    - copy\n"
    "    template: hostname.tpl\n"
    "  /etc/hosts:\n"
    "    when: [create]\n"
    "    create_only: true\n"
    "    template: hosts.tpl\n"
    "    properties:\n"
    "      default: localhost\n";

TarEntry dir(const std::string& n, mode_t perm = 0755) { return {.name = n, .type = AE_IFDIR, .perm = perm}; }
TarEntry file(const std::string& n, const std::string& data, mode_t perm = 0644) {
    return {.name = n, .type = AE_IFREG, .data = data, .perm = perm};
}
TarEntry symlink_to(const std::string& n, const std::string& target) {
    return {.name = n, .type = AE_IFLNK, .perm = 0777, .link = target};
}

std::vector<TarEntry> with_meta(std::vector<TarEntry> rootfs) {
    std::vector<TarEntry> all{file("metadata.yaml", kMeta), dir("rootfs")};
    all.insert(all.end(), rootfs.begin(), rootfs.end());
    return all;
}

UnpackOptions opts_unified() {
    UnpackOptions o;
    o.prefix = "rootfs";
    o.same_owner = ::geteuid() == 0;
    return o;
}

size_t count_entries(const std::string& d) {
    size_t n = 0;
    std::error_code ec;
    for (auto& e : std::filesystem::recursive_directory_iterator(d, ec)) (void)e, ++n;
    return n;
}

std::string slurp(const std::string& p) {
    auto r = base::read_file(p);
    return r ? *r : "<missing>";
}

// A target dir and an "outside" dir beside it that must stay empty.
struct Arena {
    TempDir tmp{"img"};
    std::string target = tmp / "target";
    std::string outside = tmp / "outside";
    std::string tarball = tmp / "image.tar";
    Arena() {
        (void)base::mkdir_p(target);
        (void)base::mkdir_p(outside);
    }
};

}  // namespace

TEST(ImageFingerprint, Sha256OverFilesInOrder) {
    TempDir t("fp");
    ASSERT_TRUE(base::write_file(t / "ab", "ab", true));
    ASSERT_TRUE(base::write_file(t / "c", "c", true));
    ASSERT_TRUE(base::write_file(t / "abc", "abc", true));
    const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    EXPECT_EQ(*sha256_files({t / "abc"}), abc);
    EXPECT_EQ(*sha256_files({t / "ab", t / "c"}), abc);  // split: metadata bytes then rootfs bytes
    EXPECT_TRUE(valid_fingerprint(abc));
    EXPECT_FALSE(valid_fingerprint("ABC"));
    EXPECT_FALSE(valid_fingerprint(abc.substr(1) + "g"));
}

TEST(ImageFingerprint, SidecarCacheHitsUntilTheFileChanges) {
    TempDir t("fpcache");
    const std::string f = t / "img.tar.gz";
    ASSERT_TRUE(base::write_file(f, "abc", true));
    const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    EXPECT_FALSE(cached_sha256(f));
    bool hit = true;
    auto fp = sha256_file_cached(f, &hit);
    ASSERT_TRUE(fp) << fp.error().message();
    EXPECT_EQ(*fp, abc);
    EXPECT_FALSE(hit);
    ASSERT_TRUE(base::path_exists(f + ".sha256"));
    fp = sha256_file_cached(f, &hit);
    ASSERT_TRUE(fp);
    EXPECT_EQ(*fp, abc);
    EXPECT_TRUE(hit);

    // A hit does not read the file: a sidecar naming another hash for the same identity is believed.
    auto side = base::read_file(f + ".sha256");
    ASSERT_TRUE(side);
    std::string fake = std::string(64, '1');
    std::string forged = *side;
    forged.replace(forged.find(abc), 64, fake);
    ASSERT_TRUE(base::write_file(f + ".sha256", forged));
    EXPECT_EQ(cached_sha256(f).value_or(""), fake);

    // Same size, new content and mtime: hashed again, and the sidecar follows.
    ASSERT_TRUE(base::write_file(f, "abd"));
    struct timespec ts[2] = {{1700000000, 5}, {1700000000, 5}};
    ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), ts, 0), 0);
    EXPECT_FALSE(cached_sha256(f));
    auto abd = sha256_files({f});
    ASSERT_TRUE(abd);
    fp = sha256_file_cached(f, &hit);
    ASSERT_TRUE(fp);
    EXPECT_EQ(*fp, *abd);
    EXPECT_FALSE(hit);
    EXPECT_EQ(cached_sha256(f).value_or(""), *abd);

    // Replaced by another file (new inode) with the same size and mtime: a miss too.
    ASSERT_TRUE(base::write_file(t / "other", "abc", true));
    ASSERT_EQ(::utimensat(AT_FDCWD, (t / "other").c_str(), ts, 0), 0);
    ASSERT_EQ(::rename((t / "other").c_str(), f.c_str()), 0);
    EXPECT_FALSE(cached_sha256(f));
    EXPECT_EQ(sha256_file_cached(f).value_or(""), abc);

    // A damaged sidecar is a miss, never an error.
    ASSERT_TRUE(base::write_file(f + ".sha256", "lxm-sha256 zz\n"));
    EXPECT_FALSE(cached_sha256(f));
    EXPECT_EQ(sha256_file_cached(f).value_or(""), abc);
}

TEST(ImageStore, ImportUnifiedAndSplit) {
    TempDir t("store");
    auto s = ImageStore::open(t / "images");
    ASSERT_TRUE(s) << s.error().message();
    write_tar(t / "unified.tar.gz", with_meta({file("rootfs/hello", "hi")}), true);
    auto want = sha256_files({t / "unified.tar.gz"});
    ASSERT_TRUE(want);

    auto u = s->import(t / "unified.tar.gz", std::nullopt, ImageStore::Take::copy, *want);
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->fingerprint, *want);
    EXPECT_EQ(u->layout, ImageLayout::unified);
    EXPECT_EQ(u->metadata_file, t / "images/" + *want);
    EXPECT_EQ(u->metadata.architecture, "x86_64");
    EXPECT_EQ(u->metadata.properties.at("os"), "Debian");
    EXPECT_TRUE(base::path_exists(t / "unified.tar.gz"));  // copied, not moved
    auto dup = s->import(t / "unified.tar.gz", std::nullopt);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, std::errc::file_exists);

    write_tar(t / "meta.tar", {file("metadata.yaml", kMeta), dir("templates"), file("templates/hostname.tpl", "{{ container.name }}")});
    write_tar(t / "rootfs.tar", {dir("."), file("./etc/os-release", "ID=debian")});
    auto split_fp = sha256_files({t / "meta.tar", t / "rootfs.tar"});
    auto bad = s->import(t / "meta.tar", t / "rootfs.tar", ImageStore::Take::copy, std::string(64, 'a'));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("fingerprints don't match"), std::string::npos);
    auto sp = s->import(t / "meta.tar", t / "rootfs.tar", ImageStore::Take::move);
    ASSERT_TRUE(sp) << sp.error().message();
    EXPECT_EQ(sp->fingerprint, *split_fp);
    EXPECT_EQ(sp->layout, ImageLayout::split);
    EXPECT_EQ(sp->rootfs_file, t / "images/" + *split_fp + ".rootfs");
    EXPECT_FALSE(base::path_exists(t / "meta.tar"));  // moved
    auto tpl = s->template_files(*split_fp);
    ASSERT_TRUE(tpl);
    EXPECT_EQ(tpl->at("hostname.tpl"), "{{ container.name }}");

    std::vector<std::string> both{*want, *split_fp};
    std::sort(both.begin(), both.end());
    EXPECT_EQ(s->list(), both);
    EXPECT_EQ(*s->resolve_prefix(want->substr(0, 12)), *want);
    EXPECT_FALSE(s->resolve_prefix("zz"));

    // Unpack both into fresh dirs.
    ASSERT_TRUE(base::mkdir_p(t / "u"));
    ASSERT_TRUE(s->unpack_rootfs(*want, t / "u", opts_unified()));
    EXPECT_EQ(slurp(t / "u/hello"), "hi");
    EXPECT_FALSE(base::path_exists(t / "u/metadata.yaml"));
    ASSERT_TRUE(base::mkdir_p(t / "s"));
    ASSERT_TRUE(s->unpack_rootfs(*split_fp, t / "s", opts_unified()));
    EXPECT_EQ(slurp(t / "s/etc/os-release"), "ID=debian");

    // Export: as stored, and unified from the split pair.
    auto files = s->export_files(*split_fp);
    ASSERT_TRUE(files);
    EXPECT_EQ(files->size(), 2u);
    ASSERT_TRUE(s->export_unified(*split_fp, t / "exported.tar.gz"));
    auto re = s->import(t / "exported.tar.gz", std::nullopt);
    ASSERT_TRUE(re) << re.error().message();
    EXPECT_EQ(re->layout, ImageLayout::unified);
    ASSERT_TRUE(base::mkdir_p(t / "r"));
    ASSERT_TRUE(s->unpack_rootfs(re->fingerprint, t / "r", opts_unified()));
    EXPECT_EQ(slurp(t / "r/etc/os-release"), "ID=debian");
    EXPECT_EQ(s->template_files(re->fingerprint)->at("hostname.tpl"), "{{ container.name }}");

    ASSERT_TRUE(s->remove(*want));
    EXPECT_FALSE(s->has(*want));
    ASSERT_TRUE(s->remove(*split_fp));
    EXPECT_FALSE(base::path_exists(t / "images/" + *split_fp + ".rootfs"));
}

TEST(ImageStore, RefusesBadImagesAndCleansLeftovers) {
    TempDir t("store");
    ASSERT_TRUE(base::mkdir_p(t / "images"));
    std::string orphan = t / "images/" + std::string(64, 'b') + ".rootfs";
    ASSERT_TRUE(base::write_file(orphan, "x", true));
    ASSERT_TRUE(base::write_file(t / "images/.tmp-abcdef", "x", true));
    auto s = ImageStore::open(t / "images");
    ASSERT_TRUE(s);
    EXPECT_FALSE(base::path_exists(orphan));
    EXPECT_FALSE(base::path_exists(t / "images/.tmp-abcdef"));

    write_tar(t / "nometa.tar", {dir("rootfs"), file("rootfs/x", "x")});
    EXPECT_FALSE(s->import(t / "nometa.tar", std::nullopt));
    write_tar(t / "noroot.tar", {file("metadata.yaml", kMeta)});
    EXPECT_FALSE(s->import(t / "noroot.tar", std::nullopt));
    write_tar(t / "badmeta.tar", {file("metadata.yaml", "architecture: x86_64\n"), dir("rootfs")});
    EXPECT_FALSE(s->import(t / "badmeta.tar", std::nullopt));
    EXPECT_TRUE(s->list().empty());
}

TEST(ImageMetadata, ParsesLxdMetadata) {
    auto m = parse_image_metadata(kMeta);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->architecture, "x86_64");
    EXPECT_EQ(m->creation_date, 1424284563);
    EXPECT_EQ(m->properties.at("release"), "12");
    ASSERT_EQ(m->templates.size(), 2u);
    const auto& h = m->templates.at("/etc/hostname");
    EXPECT_EQ(h.when, (std::vector<std::string>{"create", "copy"}));
    EXPECT_EQ(h.template_file, "hostname.tpl");
    EXPECT_FALSE(h.create_only);
    const auto& hosts = m->templates.at("/etc/hosts");
    EXPECT_TRUE(hosts.create_only);
    EXPECT_EQ(hosts.properties.at("default"), "localhost");

    auto back = parse_image_metadata(render_image_metadata(*m));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->architecture, m->architecture);
    EXPECT_EQ(back->creation_date, m->creation_date);
    EXPECT_EQ(back->properties, m->properties);
    EXPECT_EQ(back->templates.at("/etc/hosts").properties, hosts.properties);
    EXPECT_EQ(back->templates.at("/etc/hostname").when, h.when);

    EXPECT_FALSE(parse_image_metadata("creation_date: 1\n"));
    EXPECT_FALSE(parse_image_metadata("architecture: x86_64\n"));
    EXPECT_FALSE(parse_image_metadata("architecture: [x\n"));
    EXPECT_FALSE(parse_image_metadata("architecture: x86_64\ncreation_date: 1\nproperties: [a, b]\n"));
}

TEST(ImageUnpack, KeepsModesLinksAndXattrs) {
    Arena a;
    TarEntry suid = file("rootfs/bin/su", "su", 04755);
    TarEntry xf = file("rootfs/xattr", "x");
    xf.xattrs = {{"user.lxm", "v"}};
    TarEntry hl{.name = "rootfs/bin/su2", .type = AE_IFREG, .perm = 04755, .hardlink = "rootfs/bin/su"};
    write_tar(a.tarball, with_meta({dir("rootfs/bin"), suid, hl, symlink_to("rootfs/sh", "/bin/su"), xf,
                                    file("rootfs/deep/er/file", "nested"),  // parents without entries
                                    dir("rootfs/tmp", 01777)}));
    auto r = unpack_tarball(a.tarball, a.target, opts_unified());
    ASSERT_TRUE(r) << r.error().message();
    struct stat st;
    ASSERT_EQ(::lstat((a.target + "/bin/su").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 04755u);
    EXPECT_EQ(st.st_nlink, 2u);
    struct stat st2;
    ASSERT_EQ(::lstat((a.target + "/bin/su2").c_str(), &st2), 0);
    EXPECT_EQ(st.st_ino, st2.st_ino);
    EXPECT_EQ(std::filesystem::read_symlink(a.target + "/sh"), "/bin/su");
    EXPECT_EQ(slurp(a.target + "/deep/er/file"), "nested");
    ASSERT_EQ(::lstat((a.target + "/tmp").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 01777u);
    char v[8] = {};
    EXPECT_EQ(::getxattr((a.target + "/xattr").c_str(), "user.lxm", v, sizeof v), 1);
    EXPECT_EQ(v[0], 'v');
    ASSERT_EQ(::lstat((a.target + "/bin").c_str(), &st), 0);
    EXPECT_EQ(st.st_mtime, 1700000000);
    EXPECT_FALSE(base::path_exists(a.target + "/metadata.yaml"));
    EXPECT_EQ(count_entries(a.outside), 0u);
}

// ---- hostile tarballs: the unpack fails (or skips) and nothing appears outside ----

TEST(ImageUnpackHostile, PathTraversal) {
    Arena a;
    write_tar(a.tarball, with_meta({file("rootfs/../outside/evil", "pwned"), file("rootfs/ok", "ok")}));
    auto r = unpack_tarball(a.tarball, a.target, opts_unified());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("\"..\""), std::string::npos) << r.error().message();
    EXPECT_EQ(count_entries(a.outside), 0u);
    EXPECT_FALSE(base::path_exists(a.tmp / "evil"));

    // Also deeper and in the split layout (no prefix).
    write_tar(a.tarball, {dir("."), file("./a/../../../outside/evil2", "pwned")});
    UnpackOptions o;
    o.same_owner = ::geteuid() == 0;
    EXPECT_FALSE(unpack_tarball(a.tarball, a.target, o));
    EXPECT_EQ(count_entries(a.outside), 0u);
}

TEST(ImageUnpackHostile, AbsolutePath) {
    Arena a;
    std::string evil = a.outside + "/abs";
    write_tar(a.tarball, {dir("."), file(evil, "pwned")});
    UnpackOptions o;
    o.same_owner = ::geteuid() == 0;
    auto r = unpack_tarball(a.tarball, a.target, o);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("absolute"), std::string::npos) << r.error().message();
    EXPECT_FALSE(base::path_exists(evil));
    EXPECT_EQ(count_entries(a.outside), 0u);
}

TEST(ImageUnpackHostile, SymlinkEscapeThenWriteThroughIt) {
    for (bool absolute : {false, true}) {
        Arena a;
        std::string link_target = absolute ? a.outside : "../outside";
        write_tar(a.tarball, with_meta({symlink_to("rootfs/esc", link_target), file("rootfs/esc/evil", "pwned"),
                                        dir("rootfs/esc/sub"), symlink_to("rootfs/esc/l2", "/")}));
        auto r = unpack_tarball(a.tarball, a.target, opts_unified());
        ASSERT_FALSE(r) << link_target;
        EXPECT_NE(r.error().message().find("symlink"), std::string::npos) << r.error().message();
        EXPECT_EQ(count_entries(a.outside), 0u) << link_target;
        // The symlink itself may exist inside the target, but only as a symlink.
        struct stat st;
        if (::lstat((a.target + "/esc").c_str(), &st) == 0) {
            EXPECT_TRUE(S_ISLNK(st.st_mode));
        }
    }
}

TEST(ImageUnpackHostile, SymlinkThenFileReplacesTheLinkNotItsTarget) {
    Arena a;
    ASSERT_TRUE(base::write_file(a.outside + "/passwd", "original", true));
    write_tar(a.tarball, with_meta({dir("rootfs/etc"), symlink_to("rootfs/etc/passwd", a.outside + "/passwd"),
                                    file("rootfs/etc/passwd", "root:x:0:0")}));
    auto r = unpack_tarball(a.tarball, a.target, opts_unified());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(slurp(a.outside + "/passwd"), "original");
    struct stat st;
    ASSERT_EQ(::lstat((a.target + "/etc/passwd").c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(slurp(a.target + "/etc/passwd"), "root:x:0:0");
}

TEST(ImageUnpackHostile, HardLinkOut) {
    Arena a;
    std::string secret = a.outside + "/secret";
    ASSERT_TRUE(base::write_file(secret, "secret", true));
    struct stat before;
    ASSERT_EQ(::stat(secret.c_str(), &before), 0);
    const std::vector<std::string> targets = {secret, "rootfs/../outside/secret", "../outside/secret", "metadata.yaml",
                                              "rootfs/esc/secret"};
    for (const auto& t : targets) {
        TarEntry hl{.name = "rootfs/hl", .type = AE_IFREG, .hardlink = t};
        write_tar(a.tarball, with_meta({symlink_to("rootfs/esc", "../outside"), hl, file("rootfs/after", "x")}));
        auto r = unpack_tarball(a.tarball, a.target, opts_unified());
        EXPECT_FALSE(r) << t;
        struct stat after;
        ASSERT_EQ(::stat(secret.c_str(), &after), 0);
        EXPECT_EQ(after.st_nlink, before.st_nlink) << t;
        EXPECT_FALSE(base::path_exists(a.target + "/hl")) << t;
    }
    EXPECT_EQ(count_entries(a.outside), 1u);
}

TEST(ImageUnpackHostile, DeviceNodesSkippedWithANote) {
    Arena a;
    TarEntry blk{.name = "rootfs/dev/sda", .type = AE_IFBLK, .perm = 0666, .rdev = makedev(8, 0)};
    TarEntry chr{.name = "rootfs/dev/mem", .type = AE_IFCHR, .perm = 0666, .rdev = makedev(1, 1)};
    write_tar(a.tarball, with_meta({dir("rootfs/dev"), blk, chr, file("rootfs/etc/ok", "ok")}));
    auto r = unpack_tarball(a.tarball, a.target, opts_unified());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(base::path_exists(a.target + "/dev/sda"));
    EXPECT_FALSE(base::path_exists(a.target + "/dev/mem"));
    EXPECT_EQ(slurp(a.target + "/etc/ok"), "ok");
    ASSERT_EQ(r->skipped.size(), 2u);
    EXPECT_NE(r->skipped[0].find("dev/sda: block device"), std::string::npos);
    EXPECT_NE(r->skipped[1].find("dev/mem: character device"), std::string::npos);
    EXPECT_EQ(count_entries(a.outside), 0u);
}

TEST(ImageUnpackHostile, FileReplacingNonEmptyDirectoryIsRefused) {
    Arena a;
    write_tar(a.tarball, with_meta({dir("rootfs/etc"), file("rootfs/etc/keep", "k"), symlink_to("rootfs/etc", "/")}));
    auto r = unpack_tarball(a.tarball, a.target, opts_unified());
    ASSERT_FALSE(r);
    EXPECT_EQ(slurp(a.target + "/etc/keep"), "k");
}

TEST(ImageBuild, RootfsDirToUnifiedImageAndBack) {
    TempDir t("build");
    std::string root = t / "tree";
    ASSERT_TRUE(base::mkdir_p(root + "/etc"));
    ASSERT_TRUE(base::mkdir_p(root + "/bin"));
    ASSERT_TRUE(base::write_file(root + "/etc/hostname", "box\n", true));
    ASSERT_TRUE(base::write_file(root + "/bin/tool", "#!/bin/sh\n", true, 0755));
    ASSERT_EQ(::chmod((root + "/bin/tool").c_str(), 04755), 0);
    ASSERT_EQ(::link((root + "/bin/tool").c_str(), (root + "/bin/tool2").c_str()), 0);
    ASSERT_EQ(::symlink("tool", (root + "/bin/link").c_str()), 0);
    ASSERT_EQ(::chmod(root.c_str(), 0755), 0);

    ImageMetadata meta;
    meta.architecture = "x86_64";
    meta.creation_date = 1700000000;
    meta.properties = {{"os", "busybox"}, {"description", "test: a \"quoted\" text"}};
    meta.templates["/etc/hostname"] = ImageTemplate{.when = {"create", "copy"}, .template_file = "hostname.tpl"};
    PackOptions po;
    po.template_files = {{"hostname.tpl", "{{ container.name }}\n"}};
    po.compression = Compression::gzip;

    auto s = ImageStore::open(t / "images");
    ASSERT_TRUE(s);
    auto img = s->import_rootfs_dir(root, meta, po);
    ASSERT_TRUE(img) << img.error().message();
    EXPECT_EQ(img->layout, ImageLayout::unified);
    EXPECT_EQ(img->metadata.properties.at("description"), "test: a \"quoted\" text");
    EXPECT_EQ(img->metadata.templates.at("/etc/hostname").template_file, "hostname.tpl");
    EXPECT_EQ(*sha256_files({img->metadata_file}), img->fingerprint);
    EXPECT_EQ(s->template_files(img->fingerprint)->at("hostname.tpl"), "{{ container.name }}\n");

    std::string out = t / "out";
    ASSERT_TRUE(base::mkdir_p(out));
    ASSERT_TRUE(s->unpack_rootfs(img->fingerprint, out, opts_unified()));
    EXPECT_EQ(slurp(out + "/etc/hostname"), "box\n");
    struct stat a, b;
    ASSERT_EQ(::lstat((out + "/bin/tool").c_str(), &a), 0);
    ASSERT_EQ(::lstat((out + "/bin/tool2").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_EQ(a.st_mode & 07777, 04755u);
    EXPECT_EQ(std::filesystem::read_symlink(out + "/bin/link"), "tool");
    // The tarball holds exactly metadata.yaml, templates/ and rootfs/.
    struct archive* ar = archive_read_new();
    archive_read_support_filter_all(ar);
    archive_read_support_format_tar(ar);
    ASSERT_EQ(archive_read_open_filename(ar, img->metadata_file.c_str(), 65536), ARCHIVE_OK);
    struct archive_entry* e;
    bool saw_rootfs = false;
    while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
        std::string n = archive_entry_pathname(e);
        EXPECT_TRUE(n == "metadata.yaml" || n.starts_with("templates") || n.starts_with("rootfs")) << n;
        if (n == "rootfs" || n == "rootfs/") saw_rootfs = true;
    }
    archive_read_free(ar);
    EXPECT_TRUE(saw_rootfs);

    // The same tree again gives the same bytes? Not required (mtimes of
    // metadata.yaml); but importing twice must not leave temp files.
    auto again = s->import_rootfs_dir(root, meta, po);
    size_t tmp = 0;
    for (auto& f : std::filesystem::directory_iterator(t / "images"))
        if (f.path().filename().string().starts_with(".tmp-")) ++tmp;
    EXPECT_EQ(tmp, 0u);
}
