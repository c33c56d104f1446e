#include "lxm/core/snapshot_scheduler.hpp"

#include <memory>

#include "lxm/base/log.hpp"
#include "lxm/core/config_keys.hpp"
#include "lxm/core/instances.hpp"

namespace lxm::core {

using base::Result;

namespace {

std::string cfg(const store::ConfigMap& c, const std::string& k) {
    auto it = c.find(k);
    return it == c.end() ? std::string() : it->second;
}

class InstanceActions final : public SnapshotActions {
public:
    explicit InstanceActions(Instances& i) : inst_(i) {}
    Result<std::vector<ScheduledInstance>> instances() override {
        LXM_TRY(auto list, inst_.list(false));
        std::vector<ScheduledInstance> out;
        for (const auto& i : list) {
            if (cfg(i.expanded_config, "snapshots.schedule").empty()) continue;
            ScheduledInstance s;
            s.name = i.name;
            s.expanded_config = i.expanded_config;
            s.running = i.status == "Running" || i.status == "Frozen";
            LXM_TRY(auto snaps, inst_.snapshots(i.name));
            for (const auto& sn : snaps) s.snapshots.push_back(sn.name);
            out.push_back(std::move(s));
        }
        return out;
    }
    Result<void> snapshot(const std::string& instance, const std::string& snap, std::optional<int64_t> expires) override {
        return inst_.create_snapshot(instance, snap, expires);
    }
    void expire() override { inst_.expire_snapshots(); }

private:
    Instances& inst_;
};

}  // namespace

std::unique_ptr<SnapshotActions> instance_snapshot_actions(Instances& instances) {
    return std::make_unique<InstanceActions>(instances);
}

std::chrono::milliseconds SnapshotScheduler::until_next_minute() const {
    SysTime now = now_();
    auto next = std::chrono::floor<std::chrono::minutes>(now) + std::chrono::minutes(1);
    return std::chrono::duration_cast<std::chrono::milliseconds>(next - now) + std::chrono::milliseconds(50);
}

std::vector<std::string> SnapshotScheduler::tick() {
    std::vector<std::string> taken;
    SysTime now = now_();
    SysTime minute = std::chrono::floor<std::chrono::minutes>(now);
    bool fresh = !last_minute_ || *last_minute_ != minute;
    last_minute_ = minute;
    if (fresh) {
        auto list = actions_.instances();
        if (!list) {
            LXM_WARN("scheduled snapshots: {}", list.error().message());
        } else {
            for (const auto& inst : *list) {
                auto sched = CronSchedule::parse(cfg(inst.expanded_config, "snapshots.schedule"));
                if (!sched) {
                    LXM_WARN("instance {}: {}", inst.name, sched.error().message());
                    continue;
                }
                if (sched->empty() || !sched->matches(minute)) continue;
                if (!inst.running && !parse_bool(cfg(inst.expanded_config, "snapshots.schedule.stopped")).value_or(false))
                    continue;
                auto name = snapshot_name_from_pattern(cfg(inst.expanded_config, "snapshots.pattern"), inst.snapshots, now);
                if (!name) {
                    LXM_WARN("instance {}: scheduled snapshot: {}", inst.name, name.error().message());
                    continue;
                }
                auto exp = expiry_time(now, cfg(inst.expanded_config, "snapshots.expiry"));
                if (!exp) {
                    LXM_WARN("instance {}: {}", inst.name, exp.error().message());
                    continue;
                }
                std::optional<int64_t> expires;
                if (*exp) expires = std::chrono::duration_cast<std::chrono::nanoseconds>((*exp)->time_since_epoch()).count();
                if (auto r = actions_.snapshot(inst.name, *name, expires); !r) {
                    LXM_WARN("instance {}: scheduled snapshot {}: {}", inst.name, *name, r.error().message());
                    continue;
                }
                LXM_INFO("instance {}: scheduled snapshot {} taken", inst.name, *name);
                taken.push_back(inst.name + "/" + *name);
            }
        }
    }
    actions_.expire();
    return taken;
}

}  // namespace lxm::core
