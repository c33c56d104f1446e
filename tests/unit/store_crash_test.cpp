// Crash consistency: a child doing many write transactions is SIGKILLed
// mid-way; the database must open, pass integrity_check, and every instance
// must be either wholly there (row + all config + devices) or absent.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/instances.hpp"
#include "store/store.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::store;

namespace {

constexpr int kKeys = 20;

[[noreturn]] void child_writer(const std::string& path, int report_fd) {
    auto s = SqliteStore::open(path);
    if (!s) ::_exit(2);
    for (int i = 0;; ++i) {
        InstanceRecord r;
        r.name = "c" + std::to_string(i);
        r.architecture = "x86_64";
        r.created_at = i;
        for (int k = 0; k < kKeys; ++k) r.config["user.k" + std::to_string(k)] = std::string(200, 'x');
        r.devices = {{"root", {{"type", "disk"}, {"path", "/"}}}};
        r.profiles = {"default"};
        auto ok = (*s)->transaction([&](Transaction& tx) -> Result<void> {
            LXM_TRY_VOID(create_instance(tx, r));
            // Churn: rewrite and delete older ones, so the kill also lands in updates and deletes.
            if (auto old = get_instance(tx, "default", "c" + std::to_string(i - 3)); old) {
                old->config["user.touched"] = "1";
                LXM_TRY_VOID(update_instance(tx, *old));
            }
            if (i % 7 == 0 && i > 0) LXM_TRY_VOID(delete_instance(tx, "default", "c" + std::to_string(i - 1)));
            return {};
        });
        if (!ok) ::_exit(3);
        char c = 'x';
        if (::write(report_fd, &c, 1) != 1) ::_exit(4);
    }
}

}  // namespace

TEST(StoreCrash, SigkillMidTransactionLeavesConsistentDatabase) {
    lxm::test::TempDir dir("store");
    std::string path = dir / "lxm.db";
    ASSERT_TRUE(SqliteStore::open(path));  // create the schema first

    for (int round = 0; round < 3; ++round) {
        int fds[2];
        ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(fds[0]);
            child_writer(path, fds[1]);
        }
        ::close(fds[1]);
        // Let it commit a varying number of transactions, then kill it while it keeps writing.
        int want = 30 + round * 25;
        char buf[64];
        int seen = 0;
        while (seen < want) {
            ssize_t n = ::read(fds[0], buf, sizeof buf);
            if (n <= 0) break;
            seen += static_cast<int>(n);
        }
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        ::close(fds[0]);
        ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
        ASSERT_GE(seen, want);

        auto s = SqliteStore::open(path);
        ASSERT_TRUE(s) << s.error().message();
        auto ic = (*s)->integrity_check();
        ASSERT_TRUE(ic) << ic.error().message();
        auto all = (*s)->read([](Transaction& tx) { return list_instances(tx); });
        ASSERT_TRUE(all) << all.error().message();
        EXPECT_GE(all->size(), static_cast<size_t>(want / 2));
        for (const auto& r : *all) {
            EXPECT_GE(r.config.size(), static_cast<size_t>(kKeys)) << r.name;
            EXPECT_EQ(r.devices.size(), 1u) << r.name;
            EXPECT_EQ(r.profiles, std::vector<std::string>{"default"}) << r.name;
        }
        // Orphans would show as child rows without an instance.
        auto orphans = (*s)->read([](Transaction& tx) -> Result<int64_t> {
            LXM_TRY(auto st, tx.prepare("SELECT (SELECT count(*) FROM instances_config WHERE instance_id NOT IN "
                                        "(SELECT id FROM instances)) + (SELECT count(*) FROM instances_devices "
                                        "WHERE instance_id NOT IN (SELECT id FROM instances))"));
            LXM_TRY_VOID(st.step());
            return st.column_int64(0);
        });
        ASSERT_TRUE(orphans);
        EXPECT_EQ(*orphans, 0);
        // Next round continues with fresh names after what exists.
        ASSERT_TRUE((*s)->transaction([](Transaction& tx) -> Result<void> {
            LXM_TRY(auto names, list_instance_names(tx, "default"));
            for (const auto& n : names) LXM_TRY_VOID(delete_instance(tx, "default", n));
            return {};
        }));
    }
}
