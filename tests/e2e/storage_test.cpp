// Storage pools end to end through a real lxmd: /1.0/storage-pools (list, create
// dir/overlay/btrfs with a source, get/PUT/PATCH, resources, volumes, delete
// refused while instances live there) and `lxm storage list/create/info/show/delete`;
// instances placed by their root disk's pool; root disk size refused at config
// time where the pool cannot limit, enforced with EDQUOT inside a container on
// a btrfs pool (a loop file the test makes); copies take snapshots along unless
// instance_only, rename keeps them.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "lxm/base/defer.hpp"
#include "lxm/base/file.hpp"
#include "tests/e2e/daemon_fixture.hpp"
#include "tests/support/container_fixture.hpp"

namespace lxm::test {
namespace {

struct Cmd {
    int code = -1;
    std::string out;
};

Cmd sh(const std::string& cmd) {
    Cmd r;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = ::pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

class Storage : public ::testing::Test {
protected:
    void SetUp() override {
        LXM_REQUIRE_ROOT();
        std::string why;
        if (cached_rootfs("busybox", &why).empty()) GTEST_SKIP() << "busybox rootfs unavailable: " << why;
        ASSERT_TRUE(d_.start({"--default-network", ""}, &why)) << why;
        auto c = d_.client();
        ASSERT_TRUE(c) << c.error().message();
        c_.emplace(std::move(*c));
    }
    void TearDown() override {
        if (c_) {
            for (const auto& n : made_) {
                (void)change_state(*c_, n, "stop", true);
                (void)async("DELETE", "/1.0/instances/" + n);
            }
            for (const auto& p : pools_) (void)c_->del("/1.0/storage-pools/" + p);
        }
        d_.stop(SIGTERM);
        if (!btrfs_mnt_.empty() && ::umount2(btrfs_mnt_.c_str(), 0) != 0) ::umount2(btrfs_mnt_.c_str(), MNT_DETACH);
    }

    std::string async(const std::string& method, const std::string& path, const json& body = json::object()) {
        base::Result<client::Response> r = method == "POST"  ? c_->post(path, body)
                                           : method == "PUT" ? c_->put(path, body)
                                           : method == "PATCH" ? c_->patch(path, body)
                                                               : c_->del(path);
        if (!r) return apitypes::user_message(r.error());
        if (r->operation.empty()) return {};
        auto op = c_->wait_success(r->operation);
        if (!op) return apitypes::user_message(op.error());
        return {};
    }
    int status_of(const std::string& method, const std::string& path, const json& body = json::object(),
                  std::string* msg = nullptr) {
        auto r = method == "POST"    ? c_->post(path, body)
                 : method == "PUT"   ? c_->put(path, body)
                 : method == "PATCH" ? c_->patch(path, body)
                                     : c_->del(path);
        if (r) {
            if (!r->operation.empty()) {
                auto op = c_->wait_success(r->operation);
                if (!op) {
                    if (msg) *msg = apitypes::user_message(op.error());
                    return 400;
                }
            }
            return 200;
        }
        if (msg) *msg = apitypes::user_message(r.error());
        return apitypes::http_status_of(r.error());
    }
    // Create a busybox instance whose root disk is on `pool` (with an optional size).
    std::string create_on(const std::string& name, const std::string& pool, const std::string& size = "") {
        json root{{"type", "disk"}, {"path", "/"}, {"pool", pool}};
        if (!size.empty()) root["size"] = size;
        made_.push_back(name);
        return async("POST", "/1.0/instances",
                     json{{"name", name}, {"devices", {{"root", root}}}, {"source", {{"type", "image"}, {"alias", "busybox"}}}});
    }
    Cmd lxm(const std::string& args) { return sh("LXM_DIR=" + d_.state() + " " + bin("lxm") + " " + args); }
    std::vector<std::string> snapshot_names(const std::string& n) {
        std::vector<std::string> out;
        auto r = c_->get("/1.0/instances/" + n + "/snapshots?recursion=1");
        if (r)
            for (const auto& s : *r) out.push_back(s["name"].get<std::string>());
        return out;
    }
    // A btrfs filesystem on a loop file, mounted under the test's temp dir.
    std::string mount_btrfs() {
        if (sh("command -v mkfs.btrfs").code != 0) return "";
        std::string img = tmp_ / "btrfs.img";
        btrfs_mnt_ = tmp_ / "btrfs";
        std::filesystem::create_directories(btrfs_mnt_);
        if (sh("truncate -s 1G " + img + " && mkfs.btrfs -q " + img).code != 0) return "";
        if (sh("mount -o loop " + img + " " + btrfs_mnt_).code != 0) {
            btrfs_mnt_.clear();
            return "";
        }
        return btrfs_mnt_;
    }

    Lxmd d_;
    std::optional<client::Client> c_;
    TempDir tmp_{"storage"};
    std::vector<std::string> made_, pools_;
    std::string btrfs_mnt_;
};

TEST_F(Storage, PoolsApiCliAndPlacement) {
    auto list = c_->get("/1.0/storage-pools");
    ASSERT_TRUE(list);
    EXPECT_EQ(*list, json::array({"/1.0/storage-pools/default"}));
    auto def = c_->get("/1.0/storage-pools/default");
    ASSERT_TRUE(def);
    EXPECT_EQ((*def)["driver"], "overlay");
    EXPECT_EQ((*def)["status"], "Created");
    EXPECT_EQ((*def)["config"]["source"], d_.state() + "/storage-pools/default");
    EXPECT_EQ((*def)["used_by"], json::array({"/1.0/profiles/default"}));
    auto prof = c_->get("/1.0/profiles/default");
    ASSERT_TRUE(prof);
    EXPECT_EQ((*prof)["devices"]["root"], (json{{"type", "disk"}, {"path", "/"}, {"pool", "default"}}));

    // Bad requests.
    std::string msg;
    EXPECT_EQ(status_of("POST", "/1.0/storage-pools", json{{"name", "x"}, {"driver", "zfs"}}, &msg), 400) << msg;
    EXPECT_EQ(status_of("POST", "/1.0/storage-pools", json{{"name", "x"}, {"driver", "btrfs"}}, &msg), 400);
    EXPECT_NE(msg.find("needs a source"), std::string::npos) << msg;
    EXPECT_EQ(status_of("POST", "/1.0/storage-pools",
                        json{{"name", "x"}, {"driver", "btrfs"}, {"config", {{"source", std::string(tmp_ / "nb")}}}}, &msg),
              400);
    EXPECT_NE(msg.find("not on a btrfs"), std::string::npos) << msg;
    EXPECT_EQ(status_of("POST", "/1.0/storage-pools", json{{"name", "x"}, {"driver", "dir"}, {"config", {{"size", "1GB"}}}}),
              400);
    EXPECT_EQ(status_of("POST", "/1.0/storage-pools", json{{"name", "default"}, {"driver", "dir"}}), 409);
    auto missing = c_->get("/1.0/storage-pools/nope");
    ASSERT_FALSE(missing);
    EXPECT_EQ(apitypes::http_status_of(missing.error()), 404);
    EXPECT_EQ(status_of("DELETE", "/1.0/storage-pools/default", json::object(), &msg), 400);

    // A dir pool through the CLI, an overlay pool through the API.
    std::string p1 = tmp_ / "p1";
    pools_ = {"p1", "p2"};
    auto cr = lxm("storage create p1 dir source=" + p1 + " --description first");
    ASSERT_EQ(cr.code, 0) << cr.out << d_.log();
    EXPECT_EQ(cr.out, "Storage pool p1 created\n");
    ASSERT_EQ(async("POST", "/1.0/storage-pools", json{{"name", "p2"}, {"driver", "overlay"}}), "");
    EXPECT_TRUE(base::path_exists(d_.state() + "/storage-pools/p2/containers"));
    auto csv = lxm("storage list -f csv");
    ASSERT_EQ(csv.code, 0) << csv.out;
    EXPECT_NE(csv.out.find("p1,dir," + p1 + ",first,0,Created\n"), std::string::npos) << csv.out;
    EXPECT_NE(csv.out.find("p2,overlay,"), std::string::npos) << csv.out;
    auto show = lxm("storage show p1");
    EXPECT_NE(show.out.find("driver: dir"), std::string::npos) << show.out;

    // PATCH the description; the source cannot change.
    EXPECT_EQ(status_of("PATCH", "/1.0/storage-pools/p1", json{{"description", "second"}}), 200);
    EXPECT_EQ((*c_->get("/1.0/storage-pools/p1"))["description"], "second");
    EXPECT_EQ(status_of("PATCH", "/1.0/storage-pools/p1", json{{"config", {{"source", "/elsewhere"}}}}, &msg), 400);

    // Instances go to their root disk's pool.
    std::string a = Lxmd::name("ona"), b = Lxmd::name("onb");
    ASSERT_EQ(create_on(a, "p1"), "");
    ASSERT_EQ(create_on(b, "p2"), "");
    EXPECT_TRUE(base::path_exists(p1 + "/containers/" + a + "/rootfs/bin/busybox"));
    EXPECT_TRUE(base::path_exists(d_.state() + "/storage-pools/p2/containers/" + b + "/upper"));
    EXPECT_FALSE(base::path_exists(d_.state() + "/storage-pools/default/containers/" + a));
    ASSERT_EQ(change_state(*c_, a, "start"), "");
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "echo hi > /root/f && test -x /bin/busybox"}), 0);
    auto st = c_->get("/1.0/instances/" + a + "/state");
    ASSERT_TRUE(st);
    EXPECT_GT((*st)["disk"]["root"]["usage"].get<int64_t>(), 0);
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{{"name", "s1"}}), "");
    EXPECT_NE(create_on(Lxmd::name("nopool"), "nope").find("Storage pool \"nope\" not found"), std::string::npos);
    // The root disk cannot move to another pool.
    auto inst = c_->get("/1.0/instances/" + a);
    ASSERT_TRUE(inst);
    json devs = (*inst)["devices"];
    devs["root"]["pool"] = "p2";
    EXPECT_EQ(status_of("PATCH", "/1.0/instances/" + a, json{{"devices", devs}}, &msg), 400) << msg;

    // Volumes and resources.
    auto vols = c_->get("/1.0/storage-pools/p1/volumes");
    ASSERT_TRUE(vols);
    std::string vs = vols->dump();
    EXPECT_NE(vs.find("/1.0/storage-pools/p1/volumes/container/" + a + "\""), std::string::npos) << vs;
    EXPECT_NE(vs.find("/1.0/storage-pools/p1/volumes/container/" + a + "/snapshots/s1"), std::string::npos) << vs;
    EXPECT_NE(vs.find("/1.0/storage-pools/p1/volumes/image/"), std::string::npos) << vs;
    EXPECT_EQ(vs.find(b), std::string::npos) << vs;
    auto one = c_->get("/1.0/storage-pools/p1/volumes/container/" + a);
    ASSERT_TRUE(one);
    EXPECT_EQ((*one)["used_by"], json::array({"/1.0/instances/" + a}));
    auto res = c_->get("/1.0/storage-pools/p1/resources");
    ASSERT_TRUE(res);
    EXPECT_GT((*res)["space"]["total"].get<uint64_t>(), 0u);
    EXPECT_GT((*res)["space"]["used"].get<uint64_t>(), 0u);
    auto info = lxm("storage info p1");
    ASSERT_EQ(info.code, 0) << info.out;
    EXPECT_NE(info.out.find("instances:\n  - " + a), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("snapshots:\n  - " + a + "/s1"), std::string::npos) << info.out;

    // A pool with instances cannot go.
    EXPECT_EQ(status_of("DELETE", "/1.0/storage-pools/p1", json::object(), &msg), 400);
    EXPECT_NE(msg.find("still has volumes"), std::string::npos) << msg;
    auto del = lxm("storage delete p1");
    EXPECT_NE(del.code, 0);
    EXPECT_NE(del.out.find("still has volumes"), std::string::npos) << del.out;

    // Empty it, then it goes (the source dir keeps nothing of lxm's).
    ASSERT_EQ(change_state(*c_, a, "stop", true), "");
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + a), "");
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + b), "");
    made_.clear();
    auto rm = lxm("storage delete p1");
    EXPECT_EQ(rm.code, 0) << rm.out << d_.log();
    EXPECT_FALSE(base::path_exists(p1 + "/containers"));
    EXPECT_FALSE(base::path_exists(p1 + "/images"));
    EXPECT_EQ(status_of("DELETE", "/1.0/storage-pools/p2"), 200);
    EXPECT_FALSE(base::path_exists(d_.state() + "/storage-pools/p2"));
    pools_.clear();
    EXPECT_EQ(*c_->get("/1.0/storage-pools"), json::array({"/1.0/storage-pools/default"}));
}

TEST_F(Storage, PoolsSurviveRestart) {
    std::string p1 = tmp_ / "keep";
    pools_ = {"keep"};
    ASSERT_EQ(async("POST", "/1.0/storage-pools", json{{"name", "keep"}, {"driver", "dir"}, {"config", {{"source", p1}}}}), "");
    std::string a = Lxmd::name("kept");
    ASSERT_EQ(create_on(a, "keep"), "");
    d_.stop(SIGKILL);
    std::string why;
    ASSERT_TRUE(d_.start({"--default-network", ""}, &why)) << why;
    auto c = d_.client();
    ASSERT_TRUE(c);
    c_.emplace(std::move(*c));
    auto p = c_->get("/1.0/storage-pools/keep");
    ASSERT_TRUE(p);
    EXPECT_EQ((*p)["status"], "Created");
    ASSERT_EQ(change_state(*c_, a, "start"), "");
    EXPECT_EQ(exec_code(*c_, a, {"true"}), 0);
}

TEST_F(Storage, RootSizeRefusedWhereThePoolCannotLimit) {
    // The default pool is overlay on this host's filesystem: project quotas only with prjquota.
    if (sh("findmnt -no OPTIONS -T " + d_.state() + " | grep -q prjquota").code == 0)
        GTEST_SKIP() << "the state dir's filesystem has project quotas";
    std::string a = Lxmd::name("sized");
    std::string err = create_on(a, "default", "100MiB");
    EXPECT_NE(err.find("not supported by this pool"), std::string::npos) << err;
    EXPECT_EQ(c_->get("/1.0/instances/" + a).has_value(), false);
    made_.clear();
    // Nor on an update of an existing instance.
    ASSERT_EQ(create_on(a, "default"), "");
    auto inst = c_->get("/1.0/instances/" + a);
    ASSERT_TRUE(inst);
    json devs = (*inst)["devices"];
    devs["root"] = {{"type", "disk"}, {"path", "/"}, {"pool", "default"}, {"size", "100MiB"}};
    std::string msg;
    EXPECT_EQ(status_of("PATCH", "/1.0/instances/" + a, json{{"devices", devs}}, &msg), 400);
    EXPECT_NE(msg.find("not supported by this pool"), std::string::npos) << msg;
    devs["root"]["size"] = "lots";
    EXPECT_EQ(status_of("PATCH", "/1.0/instances/" + a, json{{"devices", devs}}, &msg), 400);

    // Nor through a profile an instance uses (one whose root disk comes from its profiles:
    // a root device of its own would win): 400 naming the instance, the profile unchanged.
    std::string b = Lxmd::name("psized"), p = Lxmd::name("sizedp");
    made_.push_back(b);
    ASSERT_EQ(launch(*c_, b, false), "");
    ASSERT_EQ(status_of("POST", "/1.0/profiles", json{{"name", p}}), 200);
    ASSERT_EQ(status_of("PATCH", "/1.0/instances/" + b, json{{"profiles", {"default", p}}}), 200);
    json pdevs{{"root", {{"type", "disk"}, {"path", "/"}, {"pool", "default"}, {"size", "100MiB"}}}};
    EXPECT_EQ(status_of("PATCH", "/1.0/profiles/" + p, json{{"devices", pdevs}}, &msg), 400);
    EXPECT_NE(msg.find(b), std::string::npos) << msg;
    EXPECT_NE(msg.find("not supported by this pool"), std::string::npos) << msg;
    auto prof = c_->get("/1.0/profiles/" + p);
    ASSERT_TRUE(prof);
    EXPECT_TRUE((*prof)["devices"].empty()) << prof->dump();
    // The instance with a root device of its own is not affected by the profile's.
    ASSERT_EQ(status_of("PATCH", "/1.0/instances/" + b, json{{"profiles", {"default"}}}), 200);
    ASSERT_EQ(status_of("PATCH", "/1.0/instances/" + a, json{{"profiles", {"default", p}}}), 200);
    EXPECT_EQ(status_of("PATCH", "/1.0/profiles/" + p, json{{"devices", pdevs}}, &msg), 200) << msg;
    ASSERT_EQ(status_of("PATCH", "/1.0/instances/" + a, json{{"profiles", {"default"}}}), 200);
}

TEST_F(Storage, BtrfsQuotaInsideContainer) {
    std::string mnt = mount_btrfs();
    if (mnt.empty()) GTEST_SKIP() << "cannot make a btrfs loop filesystem";
    pools_ = {"bt"};
    ASSERT_EQ(async("POST", "/1.0/storage-pools", json{{"name", "bt"}, {"driver", "btrfs"}, {"config", {{"source", mnt}}}}),
              "");
    std::string a = Lxmd::name("quota");
    ASSERT_EQ(create_on(a, "bt", "48MiB"), "") << d_.log();
    ASSERT_EQ(change_state(*c_, a, "start"), "");
    const std::vector<std::string> fill = {
        "sh", "-c", "dd if=/dev/zero of=/root/big bs=1M count=96 2>&1 | grep -q 'quota exceeded'"};  // the root is full: no temp file
    EXPECT_EQ(exec_code(*c_, a, fill), 0) << "no EDQUOT writing 96 MiB into a 48 MiB root";
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "rm -f /root/big; sync"}), 0);
    auto st = c_->get("/1.0/instances/" + a + "/state");
    ASSERT_TRUE(st);
    EXPECT_GT((*st)["disk"]["root"]["usage"].get<int64_t>(), 0);

    // Snapshot and restore: the restored root is limited again.
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{{"name", "s1"}}), "");
    ASSERT_EQ(async("PUT", "/1.0/instances/" + a, json{{"restore", "s1"}}), "");
    EXPECT_EQ(exec_code(*c_, a, fill), 0) << "no EDQUOT after restore";
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "rm -f /root/big; sync"}), 0);

    // Raised: the write fits.
    auto inst = c_->get("/1.0/instances/" + a);
    ASSERT_TRUE(inst);
    json devs = (*inst)["devices"];
    devs["root"]["size"] = "400MiB";
    ASSERT_EQ(status_of("PATCH", "/1.0/instances/" + a, json{{"devices", devs}}), 200);
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "dd if=/dev/zero of=/root/big bs=1M count=96 && sync"}), 0);

    std::string msg;
    EXPECT_EQ(status_of("DELETE", "/1.0/storage-pools/bt", json::object(), &msg), 400);
    ASSERT_EQ(change_state(*c_, a, "stop", true), "");
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + a), "");
    made_.clear();
    EXPECT_EQ(status_of("DELETE", "/1.0/storage-pools/bt"), 200) << d_.log();
    pools_.clear();
}

TEST_F(Storage, BtrfsQuotaFromProfile) {
    std::string mnt = mount_btrfs();
    if (mnt.empty()) GTEST_SKIP() << "cannot make a btrfs loop filesystem";
    pools_ = {"bt"};
    ASSERT_EQ(async("POST", "/1.0/storage-pools", json{{"name", "bt"}, {"driver", "btrfs"}, {"config", {{"source", mnt}}}}),
              "");
    // The root disk (pool and size) comes from a profile only.
    std::string p = Lxmd::name("btp"), a = Lxmd::name("pquota");
    json pdevs{{"root", {{"type", "disk"}, {"path", "/"}, {"pool", "bt"}, {"size", "48MiB"}}}};
    ASSERT_EQ(status_of("POST", "/1.0/profiles", json{{"name", p}, {"devices", pdevs}}), 200);
    made_.push_back(a);
    ASSERT_EQ(async("POST", "/1.0/instances",
                    json{{"name", a}, {"profiles", {"default", p}}, {"source", {{"type", "image"}, {"alias", "busybox"}}}}),
              "")
        << d_.log();
    auto inst = c_->get("/1.0/instances/" + a);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["expanded_devices"]["root"]["pool"], "bt");
    ASSERT_EQ(change_state(*c_, a, "start"), "");
    const std::vector<std::string> fill = {
        "sh", "-c", "dd if=/dev/zero of=/root/big bs=1M count=96 2>&1 | grep -q 'quota exceeded'"};
    EXPECT_EQ(exec_code(*c_, a, fill), 0) << "no EDQUOT writing 96 MiB into a 48 MiB root set by a profile";
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "rm -f /root/big; sync"}), 0);
    // The profile's size raised: the running instance is resized at once.
    pdevs["root"]["size"] = "400MiB";
    ASSERT_EQ(status_of("PATCH", "/1.0/profiles/" + p, json{{"devices", pdevs}}), 200) << d_.log();
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "dd if=/dev/zero of=/root/big bs=1M count=96 && sync"}), 0);
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "rm -f /root/big; sync"}), 0);
    // Lowered again: limited again.
    pdevs["root"]["size"] = "48MiB";
    ASSERT_EQ(status_of("PATCH", "/1.0/profiles/" + p, json{{"devices", pdevs}}), 200) << d_.log();
    EXPECT_EQ(exec_code(*c_, a, fill), 0) << "no EDQUOT after the profile lowered the size";
    // A profile change that would move the root disk to another pool is refused.
    pdevs["root"]["pool"] = "default";
    std::string msg;
    EXPECT_EQ(status_of("PATCH", "/1.0/profiles/" + p, json{{"devices", pdevs}}, &msg), 400);
    EXPECT_NE(msg.find(a), std::string::npos) << msg;
    ASSERT_EQ(change_state(*c_, a, "stop", true), "");
    ASSERT_EQ(async("DELETE", "/1.0/instances/" + a), "");
    made_.clear();
    (void)c_->del("/1.0/profiles/" + p);
}

TEST_F(Storage, CopyAndMoveBetweenPools) {
    // overlay (default) -> dir -> overlay again, with snapshots, through the API and the CLI.
    std::string pd = tmp_ / "pd";
    pools_ = {"pd"};
    ASSERT_EQ(async("POST", "/1.0/storage-pools", json{{"name", "pd"}, {"driver", "dir"}, {"config", {{"source", pd}}}}), "");
    std::string a = Lxmd::name("xsrc"), b = Lxmd::name("xdir"), c = Lxmd::name("xcli"), m = Lxmd::name("xmoved");
    made_ = {a, b, c, m};
    ASSERT_EQ(launch(*c_, a, true), "");
    ASSERT_EQ(exec_code(*c_, a, {"sh", "-c", "echo one > /root/f && chown 1000:1000 /root/f"}), 0);
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{{"name", "s1"}}), "");
    ASSERT_EQ(exec_code(*c_, a, {"sh", "-c", "echo two > /root/f"}), 0);
    ASSERT_EQ(async("PATCH", "/1.0/instances/" + a, json{{"config", {{"user.mark", "x"}}}}), "");

    // A running source, copied into the dir pool: the request's root disk names the pool.
    json body{{"name", b},
              {"devices", {{"root", {{"type", "disk"}, {"path", "/"}, {"pool", "pd"}}}}},
              {"source", {{"type", "copy"}, {"source", a}}}};
    ASSERT_EQ(async("POST", "/1.0/instances", body), "") << d_.log();
    auto inst = c_->get("/1.0/instances/" + b);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["expanded_devices"]["root"]["pool"], "pd");
    EXPECT_EQ((*inst)["config"]["user.mark"], "x");
    EXPECT_TRUE(base::path_exists(pd + "/containers/" + b + "/rootfs/bin/busybox"));
    EXPECT_FALSE(base::path_exists(d_.state() + "/storage-pools/default/containers/" + b));
    EXPECT_EQ(snapshot_names(b), (std::vector<std::string>{"s1"}));
    ASSERT_EQ(change_state(*c_, b, "start"), "") << d_.log();
    EXPECT_EQ(exec_code(*c_, b, {"sh", "-c", "test \"$(cat /root/f)\" = two && test \"$(stat -c %u:%g /root/f)\" = 1000:1000"}),
              0);
    ASSERT_EQ(change_state(*c_, b, "stop", true), "");
    ASSERT_EQ(async("PUT", "/1.0/instances/" + b, json{{"restore", "s1"}}), "");
    ASSERT_EQ(change_state(*c_, b, "start"), "");
    EXPECT_EQ(exec_code(*c_, b, {"sh", "-c", "test \"$(cat /root/f)\" = one"}), 0);
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "test \"$(cat /root/f)\" = two"}), 0);  // the source as it was
    ASSERT_EQ(change_state(*c_, b, "stop", true), "");

    // The CLI: copy -s from a snapshot of the source.
    auto cp = lxm("copy " + a + "/s1 " + c + " -s pd");
    ASSERT_EQ(cp.code, 0) << cp.out;
    EXPECT_TRUE(base::path_exists(pd + "/containers/" + c + "/rootfs/root/f"));
    EXPECT_EQ(base::read_file(pd + "/containers/" + c + "/rootfs/root/f").value_or(""), "one\n");

    // Move the dir copy back into the default pool under a new name, snapshots with it.
    auto mv = lxm("move " + b + " " + m + " -s default");
    ASSERT_EQ(mv.code, 0) << mv.out << d_.log();
    EXPECT_FALSE(c_->get("/1.0/instances/" + b).has_value());
    EXPECT_FALSE(base::path_exists(pd + "/containers/" + b));
    inst = c_->get("/1.0/instances/" + m);
    ASSERT_TRUE(inst);
    EXPECT_EQ((*inst)["expanded_devices"]["root"]["pool"], "default");
    EXPECT_EQ(snapshot_names(m), (std::vector<std::string>{"s1"}));
    ASSERT_EQ(change_state(*c_, m, "start"), "");
    EXPECT_EQ(exec_code(*c_, m, {"sh", "-c", "test \"$(cat /root/f)\" = one"}), 0);
    // A running instance does not move.
    std::string msg;
    EXPECT_EQ(status_of("POST", "/1.0/instances/" + m, json{{"pool", "pd"}}, &msg), 400);
    EXPECT_NE(msg.find("stopped"), std::string::npos) << msg;

    // All-or-nothing: a target pool too small for the copy (a 4 MiB tmpfs, a 16 MiB file).
    std::string tiny = tmp_ / "tiny";
    std::filesystem::create_directories(tiny);
    ASSERT_EQ(sh("mount -t tmpfs -o size=4m tmpfs " + tiny).code, 0);
    base::Defer umount_tiny([&] { ::umount2(tiny.c_str(), MNT_DETACH); });
    pools_.push_back("tiny");
    ASSERT_EQ(async("POST", "/1.0/storage-pools", json{{"name", "tiny"}, {"driver", "dir"}, {"config", {{"source", tiny + "/p"}}}}),
              "");
    ASSERT_EQ(exec_code(*c_, a, {"sh", "-c", "dd if=/dev/zero of=/root/big bs=1M count=16 2>/dev/null"}), 0);
    std::string x = Lxmd::name("xfail");
    json fail{{"name", x},
              {"devices", {{"root", {{"type", "disk"}, {"path", "/"}, {"pool", "tiny"}}}}},
              {"source", {{"type", "copy"}, {"source", a}}}};
    EXPECT_NE(async("POST", "/1.0/instances", fail), "");
    EXPECT_FALSE(c_->get("/1.0/instances/" + x).has_value());
    EXPECT_FALSE(base::path_exists(tiny + "/p/containers/" + x));
    EXPECT_EQ(sh("ls -A " + tiny + "/p/tmp").out, "");
    EXPECT_EQ(snapshot_names(a), (std::vector<std::string>{"s1"}));  // no temporary snapshot left
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "test \"$(cat /root/f)\" = two && test -f /root/big"}), 0);
    for (const auto& n : {a, m}) (void)change_state(*c_, n, "stop", true);
    for (const auto& n : {a, c, m}) (void)async("DELETE", "/1.0/instances/" + n);
    made_.clear();
    for (const auto& p : pools_) (void)c_->del("/1.0/storage-pools/" + p);
    pools_.clear();
}

TEST_F(Storage, CopyTakesSnapshotsRenameKeepsThem) {
    std::string a = Lxmd::name("snapsrc"), b = Lxmd::name("withsnaps"), c = Lxmd::name("instonly"),
                r = Lxmd::name("renamed");
    ASSERT_EQ(launch(*c_, a, true), "");
    made_ = {a, b, c, r};
    ASSERT_EQ(exec_code(*c_, a, {"sh", "-c", "echo one > /root/f"}), 0);
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{{"name", "s1"}}), "");
    ASSERT_EQ(exec_code(*c_, a, {"sh", "-c", "echo two > /root/f"}), 0);
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{}), "");  // snap0 (pattern default)
    EXPECT_EQ(snapshot_names(a), (std::vector<std::string>{"s1", "snap0"}));

    ASSERT_EQ(async("POST", "/1.0/instances", json{{"name", b}, {"source", {{"type", "copy"}, {"source", a}}}}), "");
    EXPECT_EQ(snapshot_names(b), (std::vector<std::string>{"s1", "snap0"}));
    ASSERT_EQ(async("POST", "/1.0/instances",
                    json{{"name", c}, {"source", {{"type", "copy"}, {"source", a}, {"instance_only", true}}}}),
              "");
    EXPECT_TRUE(snapshot_names(c).empty());
    // The copy's snapshot restores its own tree.
    ASSERT_EQ(async("PUT", "/1.0/instances/" + b, json{{"restore", "s1"}}), "");
    ASSERT_EQ(change_state(*c_, b, "start"), "");
    EXPECT_EQ(exec_code(*c_, b, {"sh", "-c", "test \"$(cat /root/f)\" = one && test \"$(stat -c %u /root/f)\" = 0"}), 0);
    EXPECT_EQ(exec_code(*c_, a, {"sh", "-c", "test \"$(cat /root/f)\" = two"}), 0);

    // Rename keeps the snapshots (pool tree and rows).
    ASSERT_EQ(change_state(*c_, a, "stop", true), "");
    ASSERT_EQ(async("POST", "/1.0/instances/" + a, json{{"name", r}}), "");
    EXPECT_EQ(snapshot_names(r), (std::vector<std::string>{"s1", "snap0"}));
    ASSERT_EQ(async("PUT", "/1.0/instances/" + r, json{{"restore", "s1"}}), "");
    ASSERT_EQ(change_state(*c_, r, "start"), "");
    EXPECT_EQ(exec_code(*c_, r, {"sh", "-c", "test \"$(cat /root/f)\" = one"}), 0);
    // And the CLI's copy: snapshots unless --instance-only.
    std::string d = Lxmd::name("clicopy");
    made_.push_back(d);
    ASSERT_EQ(change_state(*c_, r, "stop", true), "");
    auto cp = lxm("copy " + r + " " + d);
    ASSERT_EQ(cp.code, 0) << cp.out;
    EXPECT_EQ(snapshot_names(d), (std::vector<std::string>{"s1", "snap0"}));
}

TEST_F(Storage, SnapshotPatternAndExpiryFromConfig) {
    std::string a = Lxmd::name("pattern");
    made_ = {a};
    ASSERT_EQ(launch(*c_, a, false, json{{"snapshots.pattern", "auto%d"}, {"snapshots.expiry", "2H"}}), "");
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{}), "");
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{}), "");
    EXPECT_EQ(snapshot_names(a), (std::vector<std::string>{"auto0", "auto1"}));
    auto s = c_->get("/1.0/instances/" + a + "/snapshots/auto0");
    ASSERT_TRUE(s);
    auto exp = apitypes::parse_rfc3339((*s)["expires_at"].get<std::string>());
    ASSERT_TRUE(exp);
    auto left = *exp - apitypes::now();
    EXPECT_GT(left, std::chrono::minutes(110));
    EXPECT_LT(left, std::chrono::minutes(121));
    // An explicit expires_at wins.
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots",
                    json{{"name", "keep"}, {"expires_at", "0001-01-01T00:00:00Z"}}),
              "");
    EXPECT_EQ((*c_->get("/1.0/instances/" + a + "/snapshots/keep"))["expires_at"], "0001-01-01T00:00:00Z");
    std::string msg;
    EXPECT_EQ(status_of("PATCH", "/1.0/instances/" + a, json{{"config", {{"snapshots.schedule", "every day"}}}}, &msg), 400);
    EXPECT_EQ(status_of("PATCH", "/1.0/instances/" + a, json{{"config", {{"snapshots.schedule", "@daily"}}}}, &msg), 200)
        << msg;
    // LXD's pongo2 form: the creation date in a Go layout; a taken name gets "-0".
    EXPECT_EQ(status_of("PATCH", "/1.0/instances/" + a,
                        json{{"config", {{"snapshots.pattern", "d{{ creation_date|date:'2006-01-02' }}"}}}}, &msg),
              200)
        << msg;
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char day[32];
    std::strftime(day, sizeof day, "d%Y-%m-%d", &tm);
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{}), "");
    ASSERT_EQ(async("POST", "/1.0/instances/" + a + "/snapshots", json{}), "");
    auto names = snapshot_names(a);
    EXPECT_NE(std::find(names.begin(), names.end(), std::string(day)), names.end()) << day;
    EXPECT_NE(std::find(names.begin(), names.end(), std::string(day) + "-0"), names.end()) << day;
    EXPECT_EQ(status_of("PATCH", "/1.0/instances/" + a,
                        json{{"config", {{"snapshots.pattern", "{{ creation_date|nosuchfilter }}"}}}}, &msg),
              400);
}

}  // namespace
}  // namespace lxm::test
