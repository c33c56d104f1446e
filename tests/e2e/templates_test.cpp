// e2e: image file templates through the real lxmd. The built-in images carry
// templates for /etc/hostname and /etc/hosts (and Debian's systemd-networkd
// eth0 file): a busybox instance, its copy and the copy renamed each boot
// with their own name (busybox init sets the hostname from /etc/hostname);
// a Debian instance on a managed network has its name in hostname and
// /etc/hosts and gets eth0's address from its own systemd-networkd.
// An uploaded image (busybox tree + own templates): config set between create
// and the first start reaches the create templates, start templates run at
// every start; an image with a bad template fails the create with the
// template's file and line and leaves no instance.
#include <net/if.h>

#include <gtest/gtest.h>

#include "lxm/base/spawn.hpp"
#include "store/archive_pack.hpp"
#include "store/image_store.hpp"
#include "tests/e2e/daemon_fixture.hpp"

namespace lxm::test {
namespace {

std::string host_output(const std::vector<std::string>& argv) {
    base::SpawnOptions o;
    o.argv = argv;
    o.timeout = std::chrono::seconds(20);
    auto r = base::spawn_capture(o);
    return r ? r->out : std::string();
}

// The shell test run inside: hostname, /etc/hostname and the 127.0.1.1 line of /etc/hosts name the instance.
std::vector<std::string> names_itself(const std::string& name) {
    return {"sh", "-c",
            "[ \"$(hostname)\" = " + name + " ] && [ \"$(cat /etc/hostname)\" = " + name +
                " ] && grep -Eq '^127\\.0\\.1\\.1[[:space:]]+" + name + "$' /etc/hosts"};
}

std::string copy_instance(client::Client& c, const std::string& from, const std::string& to) {
    auto r = c.post("/1.0/instances", json{{"name", to}, {"source", {{"type", "copy"}, {"source", from}}}});
    if (!r) return apitypes::user_message(r.error());
    auto op = c.wait_success(r->operation);
    return op ? std::string() : apitypes::user_message(op.error());
}

std::string rename_instance(client::Client& c, const std::string& from, const std::string& to) {
    auto r = c.post("/1.0/instances/" + from, json{{"name", to}});
    if (!r) return apitypes::user_message(r.error());
    auto op = c.wait_success(r->operation);
    return op ? std::string() : apitypes::user_message(op.error());
}

// A unified image of the cached busybox rootfs with the given templates, uploaded; returns its fingerprint.
std::string upload_busybox_with(client::Client& c, const TempDir& t, const std::map<std::string, store::ImageTemplate>& rules,
                                const std::map<std::string, std::string>& files, std::string* err) {
    base::SpawnOptions o;
    o.argv = {"bash", source_dir() + "/scripts/build-rootfs.sh", source_dir() + "/templates/recipes/busybox.yaml"};
    o.timeout = std::chrono::minutes(5);
    auto built = base::spawn_checked(o);
    if (!built) {
        *err = built.error().message();
        return {};
    }
    std::string rootfs = built->out.substr(0, built->out.find_last_not_of("\n") + 1);
    rootfs = rootfs.substr(rootfs.rfind('\n') == std::string::npos ? 0 : rootfs.rfind('\n') + 1);
    store::ImageMetadata meta;
    meta.architecture = "x86_64";
    meta.creation_date = 1700000000;
    meta.properties = {{"os", "busybox"}, {"description", "busybox with test templates"}};
    meta.templates = rules;
    store::PackOptions po;
    po.template_files = files;
    std::string tarball = t / "image.tar.gz";
    if (auto b = store::build_image_from_rootfs(rootfs, meta, tarball, po); !b) {
        *err = b.error().message();
        return {};
    }
    auto fp = store::sha256_files({tarball});
    if (!fp) {
        *err = fp.error().message();
        return {};
    }
    auto up = c.upload("POST", "/1.0/images", {client::Client::BodyPart{{}, tarball}},
                       {{"Content-Type", "application/octet-stream"}});
    if (!up) {
        *err = apitypes::user_message(up.error());
        return {};
    }
    return *fp;
}

store::ImageTemplate when(std::vector<std::string> w, std::string file) {
    store::ImageTemplate t;
    t.when = std::move(w);
    t.template_file = std::move(file);
    return t;
}

class TemplatesTest : public ::testing::Test {
protected:
    void start_lxmd(const std::vector<std::string>& args = {}) {
        std::string why;
        ASSERT_TRUE(d_.start(args, &why)) << why;
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
    }
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        if (!base::path_exists(bin("lxmd"))) GTEST_SKIP() << "lxmd not built";
    }
    void TearDown() override {
        if (!c_) return;
        for (const auto& n : names_) {
            (void)change_state(*c_, n, "stop", true);
            if (auto r = c_->del("/1.0/instances/" + n); r) (void)c_->wait_operation(r->operation, 60);
        }
        if (!net_.empty()) {
            // The default profile's nic refers to the network: drop it, then the network.
            (void)c_->put("/1.0/profiles/default", json{{"config", json::object()}, {"devices", json::object()}});
            (void)c_->del("/1.0/networks/" + net_);
        }
        d_.kill_containers();
        d_.stop(SIGTERM);
        // Last resort, by name of this test's own bridge (never anything else).
        if (!net_.empty() && ::if_nametoindex(net_.c_str()) != 0) (void)host_output({"ip", "link", "del", net_});
    }

    Lxmd d_;
    std::optional<client::Client> c_;
    std::vector<std::string> names_;
    std::string net_;
};

TEST_F(TemplatesTest, BusyboxCreateCopyRenameEachNameThemselves) {
    start_lxmd();
    auto& c = *c_;
    const std::string a = Lxmd::name("tpl-a"), b = Lxmd::name("tpl-b"), b2 = Lxmd::name("tpl-b2");
    names_ = {a, b, b2};
    ASSERT_EQ(launch(c, a, true), "") << d_.log();
    EXPECT_EQ(exec_code(c, a, names_itself(a)), 0) << "create";
    // New files belong to the container's root as seen inside (host: the instance's first id).
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "[ \"$(stat -c %u:%g:%a /etc/hosts)\" = 0:0:644 ]"}), 0);
    // The instance keeps its image's templates beside its root.
    EXPECT_TRUE(base::path_exists(d_.state() + "/storage-pools/default/containers/" + a + "/metadata.yaml"));

    // A copy (of the running instance) boots with its own name.
    ASSERT_EQ(copy_instance(c, a, b), "") << d_.log();
    ASSERT_EQ(change_state(c, b, "start"), "");
    EXPECT_EQ(exec_code(c, b, names_itself(b)), 0) << "copy";
    EXPECT_EQ(exec_code(c, a, names_itself(a)), 0) << "the source is untouched";

    // Renamed while stopped: the rename trigger rewrites the files.
    ASSERT_EQ(change_state(c, b, "stop", true), "");
    ASSERT_EQ(rename_instance(c, b, b2), "") << d_.log();
    ASSERT_EQ(change_state(c, b2, "start"), "");
    EXPECT_EQ(exec_code(c, b2, names_itself(b2)), 0) << "rename";

    // A file the user changed that no template of the trigger covers stays as it is.
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "echo mine > /etc/motd"}), 0);
    ASSERT_EQ(change_state(c, a, "stop", true), "");
    ASSERT_EQ(change_state(c, a, "start"), "");
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "[ \"$(cat /etc/motd)\" = mine ]"}), 0);
    EXPECT_EQ(exec_code(c, a, names_itself(a)), 0);
}

// On a dir pool the tree is written directly (unshifted on disk, idmapped at start):
// the files are owned by the container's root as seen inside.
TEST_F(TemplatesTest, BusyboxOnADirPoolNamesItself) {
    start_lxmd();
    auto& c = *c_;
    const std::string pool = "tpldir";
    auto p = c.post("/1.0/storage-pools", json{{"name", pool}, {"driver", "dir"}});
    ASSERT_TRUE(p) << apitypes::user_message(p.error());
    const std::string a = Lxmd::name("tpl-dir");
    names_ = {a};
    auto r = c.post("/1.0/instances", json{{"name", a},
                                           {"source", {{"type", "image"}, {"alias", "busybox"}}},
                                           {"devices", {{"root", {{"type", "disk"}, {"path", "/"}, {"pool", pool}}}}}});
    ASSERT_TRUE(r) << apitypes::user_message(r.error());
    ASSERT_TRUE(c.wait_success(r->operation)) << d_.log();
    ASSERT_EQ(change_state(c, a, "start"), "") << d_.log();
    EXPECT_EQ(exec_code(c, a, names_itself(a)), 0);
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "[ \"$(stat -c %u:%g:%a /etc/hosts)\" = 0:0:644 ]"}), 0);
    ASSERT_EQ(change_state(c, a, "stop", true), "");
    auto d = c.del("/1.0/instances/" + a);
    ASSERT_TRUE(d);
    ASSERT_TRUE(c.wait_success(d->operation));
    names_.clear();
    (void)c.del("/1.0/storage-pools/" + pool);
}

TEST_F(TemplatesTest, DebianWeb1HasItsNameAndNetworkdAddress) {
    if (host_output({"sh", "-c", "command -v dnsmasq"}).empty()) GTEST_SKIP() << "dnsmasq not installed";
    net_ = "lxmt" + std::to_string((::getpid() + 7) % 100000);
    const std::string& net = net_;
    start_lxmd({"--default-network", net, "--nft-table", net});
    auto& c = *c_;
    const std::string web1 = Lxmd::name("web1");
    names_ = {web1};
    auto r = c.post("/1.0/instances", json{{"name", web1}, {"source", {{"type", "image"}, {"alias", "debian/12"}}}});
    ASSERT_TRUE(r) << apitypes::user_message(r.error());
    auto op = c.wait_success(r->operation);
    ASSERT_TRUE(op) << apitypes::user_message(op.error()) << d_.log();
    ASSERT_EQ(change_state(c, web1, "start"), "") << d_.log();
    EXPECT_EQ(exec_code(c, web1, {"sh", "-c",
                                  "for i in $(seq 300); do [ -S /run/systemd/private ] && exit 0; sleep 0.1; done; exit 1"}),
              0);
    // systemd set the hostname from /etc/hostname, written by the template at create.
    EXPECT_EQ(exec_code(c, web1, names_itself(web1)), 0);
    EXPECT_EQ(exec_code(c, web1, {"sh", "-c", "hostnamectl hostname 2>/dev/null | grep -qx " + web1 + " || "
                                              "[ \"$(cat /proc/sys/kernel/hostname)\" = " + web1 + " ]"}),
              0);
    // eth0's network file comes from the image's template, and networkd configures eth0 by DHCP:
    // a dynamic (leased) IPv4 address and networkd's state "configured".
    EXPECT_EQ(exec_code(c, web1, {"grep", "-q", "written by lxm from the image's templates at create",
                                  "/etc/systemd/network/eth0.network"}),
              0);
    int rc = -1;
    for (int i = 0; i < 150 && rc != 0; ++i) {
        rc = exec_code(c, web1, {"sh", "-c",
                                 "ip -4 -o addr show dev eth0 | grep -q dynamic && "
                                 "networkctl list --no-legend eth0 | grep -q configured"});
        if (rc != 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(rc, 0) << "eth0 not configured by networkd";
    // The lease is in the network's dnsmasq, under the instance's name.
    auto leases = c.get("/1.0/networks/" + net + "/leases");
    ASSERT_TRUE(leases) << apitypes::user_message(leases.error());
    bool found = false;
    for (const auto& l : *leases) found |= l.value("hostname", "") == web1;
    EXPECT_TRUE(found) << leases->dump();
}

}  // namespace
}  // namespace lxm::test

namespace lxm::test {
namespace {

TEST_F(TemplatesTest, UploadedImageTemplatesSeeConfigAtFirstStartAndBadOnesFailCreate) {
    start_lxmd();
    auto& c = *c_;
    TempDir t("tplimg");
    std::string err;
    std::string fp = upload_busybox_with(
        c, t,
        {{"/etc/hostname", when({"create", "copy", "rename"}, "hostname.tpl")},
         {"/etc/greeting", when({"create"}, "greeting.tpl")},
         {"/etc//./started", when({"start"}, "started.tpl")}},
        {{"hostname.tpl", "{{ container.name }}\n"},
         {"greeting.tpl", "{{ config_get(\"user.greeting\", \"none\") }} at {{ trigger }}\n"},
         {"started.tpl", "{% if trigger == \"start\" %}started {{ instance.name }}{% endif %}\n"}},
        &err);
    ASSERT_FALSE(fp.empty()) << err << d_.log();

    // Created (not started) without user.greeting: the create wrote the files already.
    const std::string a = Lxmd::name("tpl-up");
    names_ = {a};
    auto r = c.post("/1.0/instances", json{{"name", a}, {"source", {{"type", "image"}, {"fingerprint", fp}}}});
    ASSERT_TRUE(r) << apitypes::user_message(r.error());
    ASSERT_TRUE(c.wait_success(r->operation)) << d_.log();
    auto f = c.raw("GET", "/1.0/instances/" + a + "/files?path=/etc/greeting");
    ASSERT_TRUE(f) << apitypes::user_message(f.error());
    EXPECT_EQ(f->body, "none at create\n");
    auto inst = c.get("/1.0/instances/" + a);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["config"].value("volatile.apply_template", ""), "create") << inst->dump();

    // Set between create and the first start: the first start applies create again, then start.
    auto p = c.patch("/1.0/instances/" + a, json{{"config", {{"user.greeting", "hello"}}}});
    ASSERT_TRUE(p) << apitypes::user_message(p.error());
    ASSERT_EQ(change_state(c, a, "start"), "") << d_.log();
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "[ \"$(cat /etc/greeting)\" = 'hello at create' ]"}), 0);
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "[ \"$(cat /etc/started)\" = 'started " + a + "' ]"}), 0);
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "[ \"$(hostname)\" = " + a + " ]"}), 0);
    inst = c.get("/1.0/instances/" + a);
    ASSERT_TRUE(inst);
    EXPECT_FALSE((*inst)["config"].contains("volatile.apply_template")) << inst->dump();
    // Later starts: create templates are not applied again, start templates are.
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "echo mine > /etc/greeting && rm /etc/started"}), 0);
    ASSERT_EQ(change_state(c, a, "stop", true), "");
    ASSERT_EQ(change_state(c, a, "start"), "");
    EXPECT_EQ(exec_code(c, a, {"sh", "-c", "[ \"$(cat /etc/greeting)\" = mine ] && [ -f /etc/started ]"}), 0);

    // A bad template: the create fails naming file and line, and leaves nothing.
    TempDir t2("tplbad");
    std::string bad = upload_busybox_with(
        c, t2, {{"/etc/hostname", when({"create"}, "hostname.tpl")}, {"/etc/hosts", when({"create"}, "hosts.tpl")}},
        {{"hostname.tpl", "{{ container.name }}\n"}, {"hosts.tpl", "127.0.0.1 localhost\n{% for x in y %}{% endfor %}\n"}},
        &err);
    ASSERT_FALSE(bad.empty()) << err;
    const std::string b = Lxmd::name("tpl-bad");
    auto rb = c.post("/1.0/instances", json{{"name", b}, {"source", {{"type", "image"}, {"fingerprint", bad}}}});
    ASSERT_TRUE(rb) << apitypes::user_message(rb.error());
    auto op = c.wait_success(rb->operation);
    ASSERT_FALSE(op);
    EXPECT_NE(apitypes::user_message(op.error()).find("template hosts.tpl:2: unknown tag 'for'"), std::string::npos)
        << apitypes::user_message(op.error());
    auto gone = c.get("/1.0/instances/" + b);
    ASSERT_FALSE(gone);
    EXPECT_EQ(apitypes::http_status_of(gone.error()), 404);
    EXPECT_FALSE(base::path_exists(d_.state() + "/storage-pools/default/containers/" + b));
}

}  // namespace
}  // namespace lxm::test

namespace lxm::test {
namespace {

// LXD's /1.0/instances/<n>/metadata and /metadata/templates, and lxm config metadata/template.
TEST_F(TemplatesTest, MetadataAndTemplateRoutes) {
    start_lxmd({"--default-network", ""});
    std::string a = Lxmd::name("meta");
    names_ = {a};
    ASSERT_EQ(launch(*c_, a, false), "");
    const std::string base = "/1.0/instances/" + a + "/metadata";

    // The busybox image's own metadata came along: its hostname template among the rules.
    auto got = c_->query("GET", base);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_FALSE(got->metadata["architecture"].get<std::string>().empty());
    EXPECT_TRUE(got->metadata["templates"].contains("/etc/hostname")) << got->metadata.dump();
    EXPECT_FALSE(got->etag.empty());
    auto files = c_->get(base + "/templates");
    ASSERT_TRUE(files);
    EXPECT_FALSE(files->empty());

    // A new template file and a rule for it, applied at start.
    auto up = c_->raw("POST", base + "/templates?path=motd.tpl", "hello from {{ container.name }}\n",
                      {{"Content-Type", "application/octet-stream"}});
    ASSERT_TRUE(up) << up.error().message();
    json m = got->metadata;
    m["templates"]["/etc/motd"] = {{"when", {"start"}}, {"template", "motd.tpl"}, {"create_only", false},
                                   {"properties", json::object()}};
    auto put = c_->query("PUT", base, m, {{"If-Match", "\"" + got->etag + "\""}});
    ASSERT_TRUE(put) << put.error().message();
    // A stale ETag is refused.
    auto stale = c_->query("PUT", base, m, {{"If-Match", "\"" + got->etag + "\""}});
    ASSERT_FALSE(stale);
    EXPECT_EQ(apitypes::http_status_of(stale.error()), 412);
    // PATCH: only the keys given.
    ASSERT_TRUE(c_->patch(base, json{{"properties", {{"description", "edited"}}}}));
    auto now = c_->get(base);
    ASSERT_TRUE(now);
    EXPECT_EQ((*now)["properties"]["description"], "edited");
    EXPECT_EQ((*now)["templates"]["/etc/motd"]["template"], "motd.tpl");
    auto body = c_->raw("GET", base + "/templates?path=motd.tpl");
    ASSERT_TRUE(body);
    EXPECT_EQ(body->body, "hello from {{ container.name }}\n");
    ASSERT_EQ(change_state(*c_, a, "start"), "");
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "test \"$(cat /etc/motd)\" = \"hello from " + a + "\""}), 0);
    ASSERT_EQ(change_state(*c_, a, "stop", true), "");

    // Bad requests: names with '/', unknown triggers, relative targets, missing files.
    auto bad = c_->raw("POST", base + "/templates?path=../x", "x", {{"Content-Type", "application/octet-stream"}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(apitypes::http_status_of(bad.error()), 400);
    json badm = m;
    badm["templates"]["/etc/x"] = {{"when", {"boot"}}, {"template", "motd.tpl"}};
    auto br = c_->put(base, badm);
    ASSERT_FALSE(br);
    EXPECT_EQ(apitypes::http_status_of(br.error()), 400);
    badm = m;
    badm["templates"]["etc/x"] = {{"when", {"start"}}, {"template", "motd.tpl"}};
    EXPECT_FALSE(c_->put(base, badm));
    auto missing = c_->raw("GET", base + "/templates?path=nope.tpl");
    ASSERT_FALSE(missing);
    EXPECT_EQ(apitypes::http_status_of(missing.error()), 404);

    // The CLI.
    std::string lxm = "LXM_DIR=" + d_.state() + " " + bin("lxm");
    std::string list = host_output({"sh", "-c", lxm + " config template list " + a});
    EXPECT_NE(list.find("motd.tpl\n"), std::string::npos) << list;
    std::string show = host_output({"sh", "-c", lxm + " config metadata show " + a});
    EXPECT_NE(show.find("/etc/motd"), std::string::npos) << show;
    EXPECT_NE(show.find("description: edited"), std::string::npos) << show;
    host_output({"sh", "-c", "echo 'second {{ container.name }}' | " + lxm + " config template edit " + a + " motd.tpl"});
    EXPECT_EQ(host_output({"sh", "-c", lxm + " config template show " + a + " motd.tpl"}), "second {{ container.name }}\n");
    host_output({"sh", "-c", "printf 'x' | " + lxm + " config template create " + a + " new.tpl"});
    host_output({"sh", "-c", lxm + " config template delete " + a + " motd.tpl"});
    list = host_output({"sh", "-c", lxm + " config template list " + a});
    EXPECT_EQ(list.find("motd.tpl"), std::string::npos) << list;
    EXPECT_NE(list.find("new.tpl"), std::string::npos) << list;
    std::string edited = host_output(
        {"sh", "-c", lxm + " config metadata show " + a + " | sed 's/description: edited/description: again/' | " + lxm +
                         " config metadata edit " + a + " && " + lxm + " config metadata show " + a});
    EXPECT_NE(edited.find("description: again"), std::string::npos) << edited;
}

}  // namespace
}  // namespace lxm::test
