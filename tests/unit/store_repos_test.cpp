// Repository round trips, unique violations, cascades, rollback on error and
// the bounded number of queries of the full listings.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "store/certificates.hpp"
#include "store/images.hpp"
#include "store/instances.hpp"
#include "store/networks.hpp"
#include "store/profiles.hpp"
#include "store/server_config.hpp"
#include "store/snapshots.hpp"
#include "store/storage.hpp"
#include "store/store.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::store;

// Records are built with designated initializers that leave defaulted members out on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

class StoreRepo : public ::testing::Test {
protected:
    void SetUp() override {
        auto s = SqliteStore::open(":memory:");
        ASSERT_TRUE(s) << s.error().message();
        store = std::move(*s);
    }

    int64_t count(const std::string& table) {
        auto n = store->read([&](Transaction& tx) -> Result<int64_t> {
            LXM_TRY(auto st, tx.prepare("SELECT count(*) FROM " + table));
            LXM_TRY_VOID(st.step());
            return st.column_int64(0);
        });
        EXPECT_TRUE(n) << n.error().message();
        return n.value_or(-1);
    }

    std::unique_ptr<SqliteStore> store;
};

InstanceRecord sample_instance(const std::string& name) {
    InstanceRecord r;
    r.name = name;
    r.architecture = "x86_64";
    r.description = "test " + name;
    r.status_wanted = "running";
    r.created_at = 1'700'000'000'000'000'000;
    r.image_fingerprint = "abc123";
    r.storage_pool = "default";
    r.config = {{"limits.cpu", "2"}, {"user.note", name}};
    r.devices = {{"root", {{"type", "disk"}, {"path", "/"}, {"pool", "default"}}},
                 {"eth0", {{"type", "nic"}, {"network", "lxmbr0"}}}};
    r.profiles = {"default"};
    return r;
}

#define ASSERT_OK(expr)                                              \
    do {                                                             \
        auto ok_ = (expr);                                           \
        ASSERT_TRUE(ok_) << #expr << ": " << ok_.error().message();  \
    } while (0)

}  // namespace

TEST_F(StoreRepo, InstanceRoundTrip) {
    auto rec = sample_instance("c1");
    rec.idmap_base = 1'000'000;
    rec.idmap_size = 65536;
    auto id = store->write([&](Transaction& tx) { return create_instance(tx, rec); });
    ASSERT_OK(id);
    rec.id = *id;
    auto got = store->read([](Transaction& tx) { return get_instance(tx, "default", "c1"); });
    ASSERT_OK(got);
    EXPECT_EQ(*got, rec);

    auto names = store->read([](Transaction& tx) { return list_instance_names(tx, "default"); });
    ASSERT_OK(names);
    EXPECT_EQ(*names, std::vector<std::string>{"c1"});
}

TEST_F(StoreRepo, InstanceErrors) {
    ASSERT_OK(store->write([](Transaction& tx) { return create_instance(tx, sample_instance("c1")); }));
    auto dup = store->write([](Transaction& tx) { return create_instance(tx, sample_instance("c1")); });
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, std::errc::file_exists);
    EXPECT_EQ(dup.error().context, "instance \"c1\" already exists");

    // Same name in another project is fine.
    auto other = sample_instance("c1");
    other.project = "p2";
    other.profiles = {};
    ASSERT_OK(store->write([&](Transaction& tx) { return create_instance(tx, other); }));

    auto missing = store->read([](Transaction& tx) { return get_instance(tx, "default", "nope"); });
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, std::errc::no_such_file_or_directory);

    auto bad_profile = sample_instance("c2");
    bad_profile.profiles = {"default", "ghost"};
    auto r = store->write([&](Transaction& tx) { return create_instance(tx, bad_profile); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::no_such_file_or_directory);
    EXPECT_EQ(count("instances"), 2);  // the failed create left nothing behind
    EXPECT_EQ(count("instances_config"), 4);

    auto bad_status = sample_instance("c3");
    bad_status.status_wanted = "dancing";
    EXPECT_FALSE(store->write([&](Transaction& tx) { return create_instance(tx, bad_status); }));

    auto idmap_a = sample_instance("a");
    idmap_a.idmap_base = 100000;
    idmap_a.idmap_size = 65536;
    auto idmap_b = idmap_a;
    idmap_b.name = "b";
    ASSERT_OK(store->write([&](Transaction& tx) { return create_instance(tx, idmap_a); }));
    auto clash = store->write([&](Transaction& tx) { return create_instance(tx, idmap_b); });
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().code, std::errc::file_exists);
    EXPECT_NE(clash.error().context.find("id range"), std::string::npos);
}

TEST_F(StoreRepo, InstanceUpdateRenameDelete) {
    ASSERT_OK(store->write([](Transaction& tx) -> Result<void> {
        LXM_TRY_VOID(create_profile(tx, ProfileRecord{.name = "gpu", .config = {{"x", "1"}}}));
        LXM_TRY_VOID(create_instance(tx, sample_instance("c1")));
        return {};
    }));
    auto rec = sample_instance("c1");
    rec.config = {{"limits.memory", "1GiB"}};
    rec.devices = {{"root", {{"type", "disk"}, {"path", "/"}}}};
    rec.profiles = {"gpu", "default"};
    rec.status_wanted = "stopped";
    rec.last_used_at = 42;
    ASSERT_OK(store->write([&](Transaction& tx) { return update_instance(tx, rec); }));
    auto got = store->read([](Transaction& tx) { return get_instance(tx, "default", "c1"); });
    ASSERT_OK(got);
    rec.id = got->id;
    EXPECT_EQ(*got, rec);
    EXPECT_EQ(count("instances_devices_config"), 1);  // old device keys are gone

    ASSERT_OK(store->write([](Transaction& tx) { return set_instance_status_wanted(tx, "default", "c1", "running"); }));
    ASSERT_OK(store->write([](Transaction& tx) { return set_instance_last_used(tx, "default", "c1", 99); }));
    ASSERT_OK(store->write([](Transaction& tx) { return rename_instance(tx, "default", "c1", "c2"); }));
    auto renamed = store->read([](Transaction& tx) { return get_instance(tx, "default", "c2"); });
    ASSERT_OK(renamed);
    EXPECT_EQ(renamed->status_wanted, "running");
    EXPECT_EQ(renamed->last_used_at, 99);
    EXPECT_EQ(renamed->config, rec.config);

    ASSERT_OK(store->write([](Transaction& tx) { return create_instance(tx, sample_instance("c3")); }));
    auto clash = store->write([](Transaction& tx) { return rename_instance(tx, "default", "c2", "c3"); });
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().code, std::errc::file_exists);
    auto gone = store->write([](Transaction& tx) { return rename_instance(tx, "default", "zz", "c4"); });
    EXPECT_EQ(gone.error().code, std::errc::no_such_file_or_directory);

    ASSERT_OK(store->write([](Transaction& tx) { return delete_instance(tx, "default", "c2"); }));
    auto again = store->write([](Transaction& tx) { return delete_instance(tx, "default", "c2"); });
    EXPECT_EQ(again.error().code, std::errc::no_such_file_or_directory);
}

TEST_F(StoreRepo, DeletingInstanceCascades) {
    ASSERT_OK(store->write([](Transaction& tx) -> Result<void> {
        LXM_TRY_VOID(create_instance(tx, sample_instance("c1")));
        SnapshotRecord snap{.name = "s1", .created_at = 5, .config = {{"a", "b"}},
                            .devices = {{"root", {{"type", "disk"}, {"path", "/"}}}}};
        LXM_TRY_VOID(create_snapshot(tx, "default", "c1", snap));
        return {};
    }));
    EXPECT_GT(count("instances_config"), 0);
    ASSERT_OK(store->write([](Transaction& tx) { return delete_instance(tx, "default", "c1"); }));
    for (auto t : {"instances_config", "instances_devices", "instances_devices_config", "instances_profiles",
                   "instances_snapshots", "instances_snapshots_config", "instances_snapshots_devices",
                   "instances_snapshots_devices_config"})
        EXPECT_EQ(count(t), 0) << t;
    EXPECT_EQ(count("profiles"), 1);  // the profile stays
    EXPECT_TRUE(store->integrity_check());
}

TEST_F(StoreRepo, TransactionRolledBackOnError) {
    auto r = store->transaction([](Transaction& tx) -> Result<void> {
        LXM_TRY_VOID(create_instance(tx, sample_instance("c1")));
        return lxm::base::make_error(std::errc::operation_canceled, "changed my mind");
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::operation_canceled);
    EXPECT_EQ(count("instances"), 0);
    EXPECT_EQ(count("instances_config"), 0);
    // Nesting is refused rather than deadlocking.
    auto nested = store->transaction([&](Transaction&) { return store->transaction([](Transaction&) -> Result<void> { return {}; }); });
    EXPECT_EQ(nested.error().code, std::errc::resource_deadlock_would_occur);
}

TEST_F(StoreRepo, ListingThousandInstancesTakesBoundedQueries) {
    ASSERT_OK(store->write([](Transaction& tx) -> Result<void> {
        for (int i = 0; i < 1000; ++i) {
            auto r = sample_instance("c" + std::to_string(i));
            if (i % 2) r.profiles = {};
            LXM_TRY_VOID(create_instance(tx, r));
        }
        return {};
    }));
    store->database().reset_stats();
    auto all = store->read([](Transaction& tx) { return list_instances(tx, "default"); });
    ASSERT_OK(all);
    // BEGIN, instances, config, devices, profiles, COMMIT.
    EXPECT_LE(store->database().stats().runs, 6u);
    ASSERT_EQ(all->size(), 1000u);
    auto c7 = std::find_if(all->begin(), all->end(), [](const auto& r) { return r.name == "c7"; });
    ASSERT_NE(c7, all->end());
    auto expect = sample_instance("c7");
    expect.id = c7->id;
    expect.profiles = {};
    EXPECT_EQ(*c7, expect);
    auto c8 = std::find_if(all->begin(), all->end(), [](const auto& r) { return r.name == "c8"; });
    EXPECT_EQ(c8->profiles, std::vector<std::string>{"default"});

    auto every = store->read([](Transaction& tx) { return list_instances(tx); });
    ASSERT_OK(every);
    EXPECT_EQ(every->size(), 1000u);
}

TEST_F(StoreRepo, IdmapAllocationFindsHoles) {
    ASSERT_OK(store->write([](Transaction& tx) -> Result<void> {
        auto a = sample_instance("a");
        a.idmap_base = 1000;
        a.idmap_size = 100;
        auto b = sample_instance("b");
        b.idmap_base = 1200;
        b.idmap_size = 100;
        LXM_TRY_VOID(create_instance(tx, a));
        LXM_TRY_VOID(create_instance(tx, b));
        return {};
    }));
    auto alloc = [&](int64_t size) {
        return store->read([&](Transaction& tx) { return allocate_idmap_base(tx, 1000, size, 1500); });
    };
    EXPECT_EQ(alloc(100).value(), 1100);
    EXPECT_EQ(alloc(101).value(), 1300);
    EXPECT_EQ(alloc(300).error().code, std::errc::no_space_on_device);
}

TEST_F(StoreRepo, ProfilesRoundTripAndInUse) {
    ProfileRecord p{.name = "web", .description = "web things", .config = {{"limits.cpu", "1"}},
                    .devices = {{"eth0", {{"type", "nic"}, {"network", "br0"}}}}};
    auto id = store->write([&](Transaction& tx) { return create_profile(tx, p); });
    ASSERT_OK(id);
    p.id = *id;
    EXPECT_EQ(store->read([](Transaction& tx) { return get_profile(tx, "default", "web"); }).value(), p);
    auto dup = store->write([&](Transaction& tx) { return create_profile(tx, p); });
    EXPECT_EQ(dup.error().code, std::errc::file_exists);

    p.config = {{"limits.cpu", "4"}};
    p.devices = {};
    ASSERT_OK(store->write([&](Transaction& tx) { return update_profile(tx, p); }));
    auto all = store->read([](Transaction& tx) { return list_profiles(tx, "default"); });
    ASSERT_OK(all);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[1], p);
    EXPECT_EQ(store->read([](Transaction& tx) { return list_profile_names(tx, "default"); }).value(),
              (std::vector<std::string>{"default", "web"}));

    auto inst = sample_instance("c1");
    inst.profiles = {"default", "web"};
    ASSERT_OK(store->write([&](Transaction& tx) { return create_instance(tx, inst); }));
    auto busy = store->write([](Transaction& tx) { return delete_profile(tx, "default", "web"); });
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, std::errc::device_or_resource_busy);
    EXPECT_NE(busy.error().context.find("c1"), std::string::npos);

    // Renaming a profile is seen by its instances (they link by id).
    ASSERT_OK(store->write([](Transaction& tx) { return rename_profile(tx, "default", "web", "www"); }));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_instance(tx, "default", "c1"); })->profiles,
              (std::vector<std::string>{"default", "www"}));

    ASSERT_OK(store->write([](Transaction& tx) { return delete_instance(tx, "default", "c1"); }));
    ASSERT_OK(store->write([](Transaction& tx) { return delete_profile(tx, "default", "www"); }));
    EXPECT_EQ(count("profiles_config"), 0);

    ASSERT_OK(store->write([](Transaction& tx) { return ensure_default_profile(tx, "p2"); }));
    ASSERT_OK(store->write([](Transaction& tx) { return ensure_default_profile(tx, "p2"); }));
    EXPECT_EQ(count("profiles"), 2);
}

TEST_F(StoreRepo, SnapshotsRoundTrip) {
    ASSERT_OK(store->write([](Transaction& tx) { return create_instance(tx, sample_instance("c1")); }));
    SnapshotRecord s1{.name = "s1", .description = "first", .created_at = 10, .expires_at = 100,
                      .config = {{"k", "v"}}, .devices = {{"root", {{"type", "disk"}, {"path", "/"}}}}};
    SnapshotRecord s2{.name = "s2", .created_at = 20, .stateful = true};
    ASSERT_OK(store->write([&](Transaction& tx) -> Result<void> {
        LXM_TRY(s2.id, create_snapshot(tx, "default", "c1", s2));
        LXM_TRY(s1.id, create_snapshot(tx, "default", "c1", s1));
        return {};
    }));
    auto list = store->read([](Transaction& tx) { return list_snapshots(tx, "default", "c1"); });
    ASSERT_OK(list);
    EXPECT_EQ(*list, (std::vector<SnapshotRecord>{s1, s2}));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_snapshot(tx, "default", "c1", "s2"); }).value(), s2);

    auto dup = store->write([&](Transaction& tx) { return create_snapshot(tx, "default", "c1", s1); });
    EXPECT_EQ(dup.error().code, std::errc::file_exists);
    auto no_inst = store->write([&](Transaction& tx) { return create_snapshot(tx, "default", "zz", s1); });
    EXPECT_EQ(no_inst.error().code, std::errc::no_such_file_or_directory);

    auto expired = store->read([](Transaction& tx) { return list_expired_snapshots(tx, 150); });
    ASSERT_OK(expired);
    ASSERT_EQ(expired->size(), 1u);
    EXPECT_EQ((*expired)[0].snapshot, "s1");

    s1.expires_at = std::nullopt;
    s1.config = {};
    ASSERT_OK(store->write([&](Transaction& tx) { return update_snapshot(tx, "default", "c1", s1); }));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_snapshot(tx, "default", "c1", "s1"); }).value(), s1);
    ASSERT_OK(store->write([](Transaction& tx) { return rename_snapshot(tx, "default", "c1", "s1", "s0"); }));
    ASSERT_OK(store->write([](Transaction& tx) { return delete_snapshot(tx, "default", "c1", "s0"); }));
    EXPECT_EQ(store->write([](Transaction& tx) { return delete_snapshot(tx, "default", "c1", "s0"); }).error().code,
              std::errc::no_such_file_or_directory);
    EXPECT_EQ(count("instances_snapshots"), 1);
    EXPECT_EQ(count("instances_snapshots_devices"), 0);
}

TEST_F(StoreRepo, ImagesAndAliases) {
    ImageRecord img{.fingerprint = "aabbcc01", .filename = "debian.tar.xz", .size = 123456789,
                    .is_public = true, .architecture = "x86_64", .uploaded_at = 7,
                    .properties = {{"os", "debian"}, {"release", "12"}},
                    .source = ImageSource{"https://images.example", "simplestreams", "", "debian/12"}};
    ImageRecord img2{.fingerprint = "aabbdd02", .filename = "alpine.tar.xz", .size = 1, .architecture = "x86_64",
                     .uploaded_at = 8};
    ASSERT_OK(store->write([&](Transaction& tx) -> Result<void> {
        LXM_TRY(img.id, create_image(tx, img));
        LXM_TRY(img2.id, create_image(tx, img2));
        return {};
    }));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_image(tx, "aabbcc01"); }).value(), img);
    EXPECT_EQ(store->read([](Transaction& tx) { return find_image(tx, "aabbd"); }).value(), img2);
    EXPECT_EQ(store->read([](Transaction& tx) { return find_image(tx, "aabb"); }).error().code,
              std::errc::invalid_argument);
    EXPECT_EQ(store->read([](Transaction& tx) { return find_image(tx, "aa%"); }).error().code,
              std::errc::no_such_file_or_directory);
    EXPECT_EQ(store->read([](Transaction& tx) { return list_images(tx); }).value(),
              (std::vector<ImageRecord>{img, img2}));
    EXPECT_EQ(store->write([&](Transaction& tx) { return create_image(tx, img); }).error().code,
              std::errc::file_exists);

    img.source = std::nullopt;
    img.properties = {{"os", "debian"}};
    img.auto_update = true;
    ASSERT_OK(store->write([&](Transaction& tx) { return update_image(tx, img); }));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_image(tx, "aabbcc01"); }).value(), img);

    ImageAlias alias{"debian/12", "aabbcc01", "Debian 12"};
    ASSERT_OK(store->write([&](Transaction& tx) { return create_image_alias(tx, alias); }));
    EXPECT_EQ(store->write([&](Transaction& tx) { return create_image_alias(tx, alias); }).error().code,
              std::errc::file_exists);
    EXPECT_EQ(store->read([](Transaction& tx) { return get_image_alias(tx, "debian/12"); }).value(), alias);
    alias.fingerprint = "aabbdd02";
    ASSERT_OK(store->write([&](Transaction& tx) { return update_image_alias(tx, alias); }));
    ASSERT_OK(store->write([](Transaction& tx) { return rename_image_alias(tx, "debian/12", "alpine"); }));
    alias.name = "alpine";
    EXPECT_EQ(store->read([](Transaction& tx) { return list_image_aliases(tx); }).value(),
              std::vector<ImageAlias>{alias});

    // Deleting the image deletes its aliases and properties.
    ASSERT_OK(store->write([](Transaction& tx) { return delete_image(tx, "aabbdd02"); }));
    EXPECT_EQ(count("images_aliases"), 0);
    ASSERT_OK(store->write([](Transaction& tx) { return delete_image(tx, "aabbcc01"); }));
    EXPECT_EQ(count("images_properties"), 0);
    EXPECT_EQ(count("images_source"), 0);
}

TEST_F(StoreRepo, Networks) {
    NetworkRecord n{.name = "lxmbr0", .description = "default bridge",
                    .config = {{"ipv4.address", "10.0.3.1/24"}, {"ipv4.nat", "true"}}};
    ASSERT_OK(store->write([&](Transaction& tx) -> Result<void> {
        LXM_TRY(n.id, create_network(tx, n));
        return {};
    }));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_network(tx, "lxmbr0"); }).value(), n);
    EXPECT_EQ(store->write([&](Transaction& tx) { return create_network(tx, n); }).error().code, std::errc::file_exists);
    ASSERT_OK(store->write([](Transaction& tx) { return set_network_status(tx, "lxmbr0", "created"); }));
    n.status = "created";
    n.config.erase("ipv4.nat");
    ASSERT_OK(store->write([&](Transaction& tx) { return update_network(tx, n); }));
    EXPECT_EQ(store->read([](Transaction& tx) { return list_networks(tx); }).value(), std::vector<NetworkRecord>{n});
    ASSERT_OK(store->write([](Transaction& tx) { return rename_network(tx, "lxmbr0", "br1"); }));
    EXPECT_EQ(store->read([](Transaction& tx) { return list_network_names(tx); }).value(), std::vector<std::string>{"br1"});
    ASSERT_OK(store->write([](Transaction& tx) { return delete_network(tx, "br1"); }));
    EXPECT_EQ(count("networks_config"), 0);
    EXPECT_EQ(store->read([](Transaction& tx) { return get_network(tx, "br1"); }).error().code,
              std::errc::no_such_file_or_directory);
}

TEST_F(StoreRepo, StoragePoolsAndVolumes) {
    StoragePoolRecord pool{.name = "default", .driver = "dir", .config = {{"source", "/var/lib/lxm/pools/default"}}};
    StorageVolumeRecord vol{.pool = "default", .name = "data", .created_at = 3, .config = {{"size", "10GiB"}}};
    StorageVolumeRecord root{.pool = "default", .name = "c1", .type = "container"};
    ASSERT_OK(store->write([&](Transaction& tx) -> Result<void> {
        LXM_TRY(pool.id, create_storage_pool(tx, pool));
        LXM_TRY(vol.id, create_storage_volume(tx, vol));
        LXM_TRY(root.id, create_storage_volume(tx, root));
        return {};
    }));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_storage_pool(tx, "default"); }).value(), pool);
    EXPECT_EQ(store->read([](Transaction& tx) { return get_storage_volume(tx, "default", "default", "custom", "data"); })
                  .value(),
              vol);
    EXPECT_EQ(store->read([](Transaction& tx) { return list_storage_volumes(tx, "default"); }).value(),
              (std::vector<StorageVolumeRecord>{root, vol}));
    EXPECT_EQ(store->write([&](Transaction& tx) { return create_storage_volume(tx, vol); }).error().code,
              std::errc::file_exists);
    // Same name, other type: a different volume.
    auto other = vol;
    other.type = "container";
    other.name = "data";
    ASSERT_OK(store->write([&](Transaction& tx) { return create_storage_volume(tx, other); }));

    vol.config = {{"size", "20GiB"}};
    vol.description = "bigger";
    ASSERT_OK(store->write([&](Transaction& tx) { return update_storage_volume(tx, vol); }));
    ASSERT_OK(store->write([](Transaction& tx) {
        return rename_storage_volume(tx, "default", "default", "custom", "data", "data2");
    }));
    auto got = store->read([](Transaction& tx) { return get_storage_volume(tx, "default", "default", "custom", "data2"); });
    ASSERT_OK(got);
    EXPECT_EQ(got->config, vol.config);
    ASSERT_OK(store->write([](Transaction& tx) { return delete_storage_volume(tx, "default", "default", "custom", "data2"); }));

    pool.status = "created";
    pool.config["extra"] = "1";
    ASSERT_OK(store->write([&](Transaction& tx) { return update_storage_pool(tx, pool); }));
    EXPECT_EQ(store->read([](Transaction& tx) { return list_storage_pools(tx); }).value(),
              std::vector<StoragePoolRecord>{pool});
    EXPECT_EQ(store->read([](Transaction& tx) { return list_storage_pool_names(tx); }).value(),
              std::vector<std::string>{"default"});
    ASSERT_OK(store->write([](Transaction& tx) { return delete_storage_pool(tx, "default"); }));
    EXPECT_EQ(count("storage_volumes"), 0);
    EXPECT_EQ(count("storage_volumes_config"), 0);
    EXPECT_EQ(count("storage_pools_config"), 0);
}

TEST_F(StoreRepo, CertificatesAndTokens) {
    CertificateRecord cert{.fingerprint = "ff00", .name = "laptop", .certificate = "-----BEGIN CERTIFICATE-----\n...",
                           .restricted = true, .projects = {"a", "b"}};
    ASSERT_OK(store->write([&](Transaction& tx) -> Result<void> {
        LXM_TRY(cert.id, create_certificate(tx, cert));
        return {};
    }));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_certificate(tx, "ff00"); }).value(), cert);
    EXPECT_EQ(store->write([&](Transaction& tx) { return create_certificate(tx, cert); }).error().code,
              std::errc::file_exists);
    cert.restricted = false;
    cert.projects = {};
    cert.name = "desktop";
    ASSERT_OK(store->write([&](Transaction& tx) { return update_certificate(tx, cert); }));
    EXPECT_EQ(store->read([](Transaction& tx) { return list_certificates(tx); }).value(),
              std::vector<CertificateRecord>{cert});
    ASSERT_OK(store->write([](Transaction& tx) { return delete_certificate(tx, "ff00"); }));
    EXPECT_EQ(count("certificates_projects"), 0);

    TokenRecord t1{.name = "bob", .secret_hash = "h1", .created_at = 1, .expires_at = 100};
    TokenRecord t2{.name = "eve", .secret_hash = "h2", .created_at = 1, .expires_at = 10};
    ASSERT_OK(store->write([&](Transaction& tx) -> Result<void> {
        LXM_TRY(t1.id, create_token(tx, t1));
        LXM_TRY(t2.id, create_token(tx, t2));
        return {};
    }));
    EXPECT_EQ(store->read([](Transaction& tx) { return list_tokens(tx); }).value(), (std::vector<TokenRecord>{t1, t2}));
    auto used = store->write([](Transaction& tx) { return consume_token(tx, "h1", 50); });
    ASSERT_OK(used);
    EXPECT_EQ(*used, t1);
    // Single use.
    EXPECT_EQ(store->write([](Transaction& tx) { return consume_token(tx, "h1", 50); }).error().code,
              std::errc::no_such_file_or_directory);
    EXPECT_EQ(store->read([](Transaction& tx) { return prune_expired_tokens(tx, 50); }).value(), 1);
}

TEST_F(StoreRepo, ServerConfig) {
    ASSERT_OK(store->write([](Transaction& tx) -> Result<void> {
        LXM_TRY_VOID(set_server_config_key(tx, "core.https_address", std::string(":8443")));
        LXM_TRY_VOID(set_server_config_key(tx, "core.https_address", std::string(":9443")));
        LXM_TRY_VOID(set_server_config_key(tx, "images.auto_update_interval", std::string("6")));
        return set_server_config_key(tx, "images.auto_update_interval", std::nullopt);
    }));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_server_config(tx); }).value(),
              (ConfigMap{{"core.https_address", ":9443"}}));
    ASSERT_OK(store->write([](Transaction& tx) { return replace_server_config(tx, {{"a", "b"}}); }));
    EXPECT_EQ(store->read([](Transaction& tx) { return get_server_config(tx); }).value(), (ConfigMap{{"a", "b"}}));
}

TEST(StoreFacade, RetriesWhenAnotherConnectionHoldsTheLock) {
    lxm::test::TempDir dir("store");
    std::string path = dir / "lxm.db";
    auto s = SqliteStore::open(path, {.db = {.busy_timeout_ms = 1}, .busy_retries = 6, .busy_backoff_ms = 10});
    ASSERT_TRUE(s) << s.error().message();
    auto other = Database::open(path);
    ASSERT_TRUE(other);
    auto held = other->begin(true);
    ASSERT_TRUE(held);
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        (void)held->commit();
    });
    int attempts = 0;
    auto r = (*s)->transaction([&](Transaction& tx) -> Result<void> {
        ++attempts;
        LXM_TRY_VOID(create_instance(tx, sample_instance("c1")));
        return {};
    });
    release.join();
    EXPECT_TRUE(r) << r.error().message();
    (void)attempts;  // BEGIN IMMEDIATE fails before fn runs; fn runs once it gets the lock
    EXPECT_TRUE((*s)->integrity_check());
}

TEST(StoreFacade, GivesUpAfterBoundedRetries) {
    lxm::test::TempDir dir("store");
    std::string path = dir / "lxm.db";
    auto s = SqliteStore::open(path, {.db = {.busy_timeout_ms = 1}, .busy_retries = 2, .busy_backoff_ms = 1});
    ASSERT_TRUE(s);
    auto other = Database::open(path);
    ASSERT_TRUE(other);
    auto held = other->begin(true);
    ASSERT_TRUE(held);
    auto r = (*s)->transaction([](Transaction&) -> Result<void> { return {}; });
    ASSERT_FALSE(r);
    EXPECT_TRUE(is_busy(r.error()));
    EXPECT_EQ(r.error().code, std::errc::device_or_resource_busy);
}
