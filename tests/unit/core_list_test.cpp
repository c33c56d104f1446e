// Listing instances through core::Instances: a fixed number of statements whatever
// the number of instances, and monitors asked only where a monitor socket exists.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "lxm/base/file.hpp"
#include "lxm/core/daemon_state.hpp"
#include "lxm/core/images.hpp"
#include "lxm/core/instances.hpp"
#include "lxm/runtime/fd_msg.hpp"
#include "store/instances.hpp"
#include "store/profiles.hpp"
#include "store/snapshots.hpp"
#include "store/store.hpp"
#include "tests/support/test_env.hpp"

namespace {

using namespace lxm;
using base::Result;
using nlohmann::json;

int listen_at(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// A stand-in lxm-monitor that answers "state" as a running container's would.
class FakeMonitor {
public:
    explicit FakeMonitor(const std::string& path) : fd_(listen_at(path)) {
        if (fd_ >= 0) thread_ = std::thread([this] { loop(); });
    }
    ~FakeMonitor() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        if (fd_ >= 0) ::close(fd_);
    }
    bool ok() const { return fd_ >= 0; }
    int accepted() const { return accepted_; }

private:
    void loop() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            ++accepted_;
            if (auto m = runtime::recv_message(c); m && m->body.value("op", "") == "state")
                (void)runtime::send_message(c, json{{"status", "Running"}, {"pid", 4242}, {"pids", 3}});
            ::close(c);
        }
    }
    int fd_;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

TEST(CoreList, FixedStatementsAndMonitorsOnlyWhereRunning) {
    test::TempDir tmp("list");
    auto state = core::DaemonState::open(tmp / "state", "/nonexistent/lxm-monitor");
    ASSERT_TRUE(state) << state.error().message();
    core::Images images(**state);
    core::Instances inst(**state, images);
    auto& store = dynamic_cast<store::SqliteStore&>((*state)->store());

    constexpr int kCount = 300;
    auto made = store.write([](store::Transaction& tx) -> Result<void> {
        LXM_TRY_VOID(store::ensure_default_profile(tx, "default"));
        store::ProfileRecord p;
        p.name = "p1";
        p.config["user.from_profile"] = "yes";
        LXM_TRY_VOID(store::create_profile(tx, p));
        for (int i = 0; i < kCount; ++i) {
            store::InstanceRecord r;
            r.name = "c" + std::to_string(i);
            r.profiles = {"default"};
            if (i == 3) r.profiles.push_back("p1");
            r.config["user.n"] = std::to_string(i);
            LXM_TRY_VOID(store::create_instance(tx, r));
        }
        for (const char* s : {"snap0", "snap1"}) {
            store::SnapshotRecord sr;
            sr.name = s;
            sr.config["user.snap"] = s;
            LXM_TRY_VOID(store::create_snapshot(tx, "default", "c5", sr));
        }
        return {};
    });
    ASSERT_TRUE(made) << made.error().message();

    // c7 runs (a monitor answers); c8's monitor was killed (its socket file is left, nobody listens).
    const auto& paths = (*state)->paths();
    ASSERT_TRUE(base::mkdir_p(paths.run_dir("c7"), 0711));
    ASSERT_TRUE(base::mkdir_p(paths.run_dir("c8"), 0711));
    FakeMonitor mon(paths.monitor_socket("c7"));
    ASSERT_TRUE(mon.ok());
    int stale = listen_at(paths.monitor_socket("c8"));
    ASSERT_GE(stale, 0);
    ::close(stale);

    for (bool full : {false, true}) {
        SCOPED_TRACE(full ? "recursion 2" : "recursion 1");
        store.database().reset_stats();
        uint64_t asked = inst.monitor_queries();
        int accepted = mon.accepted();
        auto list = inst.list(full);
        ASSERT_TRUE(list) << list.error().message();
        // BEGIN, instances + config + devices + profile links, profiles (3), snapshots (3), COMMIT:
        // a per-instance query would make this at least kCount.
        EXPECT_LE(store.database().stats().runs, 14u);
        // Only the two instances with a socket file are asked, and only c7 has a monitor.
        EXPECT_EQ(inst.monitor_queries() - asked, 2u);
        EXPECT_EQ(mon.accepted() - accepted, 1);
        ASSERT_EQ(list->size(), static_cast<size_t>(kCount));

        auto find = [&](const std::string& n) -> const apitypes::Instance& {
            for (const auto& i : *list)
                if (i.name == n) return i;
            ADD_FAILURE() << n << " not listed";
            return list->front();
        };
        EXPECT_EQ(find("c7").status, "Running");
        EXPECT_EQ(find("c8").status, "Stopped");
        EXPECT_EQ(find("c9").status, "Stopped");
        EXPECT_EQ(find("c3").expanded_config.at("user.from_profile"), "yes");
        EXPECT_EQ(find("c3").config.count("user.from_profile"), 0u);
        EXPECT_EQ(find("c12").config.at("user.n"), "12");
        if (full) {
            ASSERT_TRUE(find("c7").state);
            EXPECT_EQ(find("c7").state->pid, 4242);
            EXPECT_EQ(find("c7").state->processes, 3);
            ASSERT_TRUE(find("c9").state);
            EXPECT_EQ(find("c9").state->pid, 0);
            ASSERT_TRUE(find("c5").snapshots);
            ASSERT_EQ(find("c5").snapshots->size(), 2u);
            EXPECT_EQ((*find("c5").snapshots)[1].expanded_config.at("user.snap"), "snap1");
            EXPECT_EQ((*find("c5").snapshots)[1].expanded_config.at("user.n"), "5");
            ASSERT_TRUE(find("c6").snapshots);
            EXPECT_TRUE(find("c6").snapshots->empty());
        } else {
            EXPECT_FALSE(find("c7").state);
        }
    }
}

}  // namespace
