// The timer side of scheduled snapshots: lxmd calls tick() at every minute
// boundary (see lxm/cmd/lxmd.cpp); each tick takes the snapshots whose
// snapshots.schedule matches that minute (running instances, and stopped ones
// with snapshots.schedule.stopped=true), named by snapshots.pattern, expiring
// after snapshots.expiry, then deletes expired snapshots. A minute is handled
// once even when tick() runs twice in it. The clock and the instance actions are
// injected, so a test drives one tick without waiting for a minute.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lxm/base/error.hpp"
#include "lxm/core/snapshot_schedule.hpp"
#include "store/config_maps.hpp"

namespace lxm::core {

class Instances;

struct ScheduledInstance {
    std::string name;
    store::ConfigMap expanded_config;
    bool running = false;
    std::vector<std::string> snapshots;  // names taken
};

struct SnapshotActions {
    virtual ~SnapshotActions() = default;
    virtual base::Result<std::vector<ScheduledInstance>> instances() = 0;
    // expires_at: unix ns, nullopt = never.
    virtual base::Result<void> snapshot(const std::string& instance, const std::string& snap,
                                        std::optional<int64_t> expires_at) = 0;
    virtual void expire() = 0;
};

// The actions of the real daemon.
std::unique_ptr<SnapshotActions> instance_snapshot_actions(Instances& instances);

class SnapshotScheduler {
public:
    using Clock = std::function<SysTime()>;
    explicit SnapshotScheduler(SnapshotActions& actions, Clock now = [] { return std::chrono::system_clock::now(); })
        : actions_(actions), now_(std::move(now)) {}

    // Returns the snapshots taken ("instance/snap"); failures are logged and skipped.
    std::vector<std::string> tick();
    // How long until the next minute boundary of the injected clock.
    std::chrono::milliseconds until_next_minute() const;

private:
    SnapshotActions& actions_;
    Clock now_;
    std::optional<SysTime> last_minute_;
};

}  // namespace lxm::core
