// snapshots.schedule (cron and @aliases), snapshots.expiry, snapshots.pattern,
// and one tick of the scheduler with an injected clock and fake instances.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <map>

#include "lxm/core/config_keys.hpp"
#include "lxm/core/snapshot_schedule.hpp"
#include "lxm/core/snapshot_scheduler.hpp"

using namespace lxm::core;
using namespace std::chrono;

namespace {

// Schedules are local time: the tests pin the zone to UTC.
struct Utc {
    Utc() {
        ::setenv("TZ", "UTC", 1);
        ::tzset();
    }
};

SysTime at(int y, int mo, int d, int h, int mi, int s = 0) {
    static Utc utc;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return system_clock::from_time_t(::timegm(&tm));
}

CronSchedule cron(const char* text) {
    auto c = CronSchedule::parse(text);
    EXPECT_TRUE(c) << text << ": " << (c ? "" : c.error().message());
    return c ? *c : CronSchedule{};
}

}  // namespace

TEST(CronSchedule, FieldsListsRangesSteps) {
    auto c = cron("*/15 9-17 * * MON-FRI");
    EXPECT_TRUE(c.matches(at(2026, 11, 23, 9, 0)));    // a Monday
    EXPECT_TRUE(c.matches(at(2026, 11, 23, 17, 45, 59)));
    EXPECT_FALSE(c.matches(at(2026, 11, 23, 9, 5)));
    EXPECT_FALSE(c.matches(at(2026, 11, 23, 18, 0)));
    EXPECT_FALSE(c.matches(at(2026, 11, 22, 9, 0)));   // Sunday
    auto l = cron("5,10 0 1 jan,jul *");
    EXPECT_TRUE(l.matches(at(2026, 7, 1, 0, 10)));
    EXPECT_FALSE(l.matches(at(2026, 8, 1, 0, 10)));
    // 7 is Sunday too.
    EXPECT_TRUE(cron("0 0 * * 7").matches(at(2026, 11, 22, 0, 0)));
}

TEST(CronSchedule, BothDayFieldsRestrictedMeansEither) {
    auto c = cron("0 12 13 * 5");  // the 13th, or any Friday
    EXPECT_TRUE(c.matches(at(2026, 11, 13, 12, 0)));  // Friday the 13th
    EXPECT_TRUE(c.matches(at(2026, 11, 20, 12, 0)));  // a Friday
    EXPECT_TRUE(c.matches(at(2026, 12, 13, 12, 0)));  // a Sunday, the 13th
    EXPECT_FALSE(c.matches(at(2026, 11, 21, 12, 0)));
}

TEST(CronSchedule, Aliases) {
    EXPECT_TRUE(cron("@hourly").matches(at(2026, 1, 2, 3, 0)));
    EXPECT_FALSE(cron("@hourly").matches(at(2026, 1, 2, 3, 1)));
    EXPECT_TRUE(cron("@daily").matches(at(2026, 1, 2, 0, 0)));
    EXPECT_TRUE(cron("@midnight").matches(at(2026, 1, 2, 0, 0)));
    EXPECT_FALSE(cron("@daily").matches(at(2026, 1, 2, 1, 0)));
    EXPECT_TRUE(cron("@weekly").matches(at(2026, 11, 22, 0, 0)));
    EXPECT_TRUE(cron("@monthly").matches(at(2026, 2, 1, 0, 0)));
    EXPECT_TRUE(cron("@yearly").matches(at(2027, 1, 1, 0, 0)));
    EXPECT_TRUE(cron("@annually").matches(at(2027, 1, 1, 0, 0)));
    auto two = cron("@hourly, @daily");
    EXPECT_TRUE(two.matches(at(2026, 1, 2, 5, 0)));
    EXPECT_TRUE(cron("").empty());
}

TEST(CronSchedule, NextAfter) {
    auto n = cron("30 2 * * *").next_after(at(2026, 11, 23, 2, 30, 10));
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, at(2026, 11, 24, 2, 30));
    auto m = cron("* * * * *").next_after(at(2026, 11, 23, 2, 30, 10));
    ASSERT_TRUE(m);
    EXPECT_EQ(*m, at(2026, 11, 23, 2, 31));
    EXPECT_EQ(*cron("0 0 29 2 *").next_after(at(2026, 3, 1, 0, 0)), at(2028, 2, 29, 0, 0));
    EXPECT_FALSE(cron("0 0 31 2 *").next_after(at(2026, 3, 1, 0, 0)));  // never
}

TEST(CronSchedule, Malformed) {
    for (const char* bad : {"* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
                            "* * * * 8", "*/0 * * * *", "5-1 * * * *", "x * * * *", "@sometimes", "@hourly,bad"}) {
        auto c = CronSchedule::parse(bad);
        EXPECT_FALSE(c) << bad;
        if (!c) {
            EXPECT_EQ(c.error().code, std::errc::invalid_argument);
        }
    }
}

TEST(SnapshotExpiry, Units) {
    SysTime t0 = at(2026, 1, 31, 10, 0);
    auto e = expiry_time(t0, "1d 2w");
    ASSERT_TRUE(e && *e);
    EXPECT_EQ(**e, t0 + hours(24 * 15));
    EXPECT_EQ(**expiry_time(t0, "30M 2H"), t0 + minutes(150));
    EXPECT_EQ(**expiry_time(t0, "1m"), at(2026, 3, 3, 10, 0));  // Jan 31 + 1 month, normalised as mktime does
    EXPECT_EQ(**expiry_time(at(2026, 5, 10, 0, 0), "1y"), at(2027, 5, 10, 0, 0));
    auto never = expiry_time(t0, "");
    ASSERT_TRUE(never);
    EXPECT_FALSE(*never);
    for (const char* bad : {"1", "d", "1x", "-1d", "1.5d", "1d x"}) EXPECT_FALSE(expiry_time(t0, bad)) << bad;
}

TEST(SnapshotPattern, Names) {
    EXPECT_EQ(*snapshot_name_from_pattern("", {}), "snap0");
    EXPECT_EQ(*snapshot_name_from_pattern("snap%d", {"snap0", "snap4", "other"}), "snap5");
    EXPECT_EQ(*snapshot_name_from_pattern("auto-%d-x", {"auto-1-x"}), "auto-2-x");
    EXPECT_EQ(*snapshot_name_from_pattern("fixed", {}), "fixed");
    // As LXD: a fixed name that is taken gets "-<n>".
    EXPECT_EQ(*snapshot_name_from_pattern("fixed", {"fixed"}), "fixed-0");
    EXPECT_EQ(*snapshot_name_from_pattern("fixed", {"fixed", "fixed-0", "fixed-3"}), "fixed-4");
    EXPECT_FALSE(snapshot_name_from_pattern("a/%d", {}));
    EXPECT_FALSE(snapshot_name_from_pattern(".x%d", {}));
    EXPECT_FALSE(snapshot_name_from_pattern("a%db%d", {}));  // %d only once
}

TEST(SnapshotPattern, Pongo2WithCreationDate) {
    // 2026-11-23 08:09:07.5 UTC (the scheduler's clock; TZ=UTC for a fixed local time).
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    SysTime t = std::chrono::system_clock::from_time_t(1795421347) + std::chrono::milliseconds(500);
    EXPECT_EQ(*snapshot_name_from_pattern("{{ creation_date|date:'2006-01-02_15-04-05' }}", {}, t),
              "2026-11-23_08-09-07");
    EXPECT_EQ(*snapshot_name_from_pattern("{{ creation_date|date:'2006-01-02_15-04-05' }}", {"2026-11-23_08-09-07"}, t),
              "2026-11-23_08-09-07-0");
    EXPECT_EQ(*snapshot_name_from_pattern("daily-{{ creation_date|date:\"Jan02\" }}-%d", {"daily-Nov23-0"}, t),
              "daily-Nov23-1");
    EXPECT_EQ(*snapshot_name_from_pattern("snap%d", {"snap1"}, t), "snap2");
    // Broken templates and names with spaces are refused (at config time too).
    EXPECT_FALSE(snapshot_name_from_pattern("{{ creation_date|date }}", {}, t));
    EXPECT_FALSE(snapshot_name_from_pattern("{% for x %}", {}, t));
    EXPECT_FALSE(snapshot_name_from_pattern("{{ creation_date }}", {}, t));  // Go's String() has spaces
    EXPECT_FALSE(validate_config({{"snapshots.pattern", "{{ creation_date|nope }}"}}));
    EXPECT_TRUE(validate_config({{"snapshots.pattern", "{{ creation_date|date:'2006-01-02_15-04-05' }}"}}));
    ::unsetenv("TZ");
    ::tzset();
}

TEST(SnapshotConfigKeys, Validated) {
    EXPECT_TRUE(validate_config({{"snapshots.schedule", "0 6 * * *"},
                                 {"snapshots.schedule.stopped", "true"},
                                 {"snapshots.pattern", "daily%d"},
                                 {"snapshots.expiry", "1w"}}));
    EXPECT_FALSE(validate_config({{"snapshots.schedule", "every day"}}));
    EXPECT_FALSE(validate_config({{"snapshots.expiry", "soon"}}));
    EXPECT_FALSE(validate_config({{"snapshots.pattern", "a/b"}}));
    EXPECT_FALSE(validate_config({{"snapshots.schedule.stopped", "maybe"}}));
}

namespace {

struct FakeActions : SnapshotActions {
    std::vector<ScheduledInstance> list;
    std::vector<std::pair<std::string, std::optional<int64_t>>> taken;
    int expired = 0;
    lxm::base::Result<std::vector<ScheduledInstance>> instances() override { return list; }
    lxm::base::Result<void> snapshot(const std::string& i, const std::string& s, std::optional<int64_t> exp) override {
        taken.emplace_back(i + "/" + s, exp);
        for (auto& x : list)
            if (x.name == i) x.snapshots.push_back(s);
        return {};
    }
    void expire() override { ++expired; }
};

}  // namespace

TEST(SnapshotScheduler, OneTickTakesDueSnapshotsOncePerMinute) {
    FakeActions fake;
    fake.list = {
        {"every-minute", {{"snapshots.schedule", "* * * * *"}, {"snapshots.expiry", "2H"}}, true, {"snap0"}},
        {"hourly", {{"snapshots.schedule", "@hourly"}, {"snapshots.pattern", "h%d"}}, true, {}},
        {"stopped", {{"snapshots.schedule", "* * * * *"}}, false, {}},
        {"stopped-too", {{"snapshots.schedule", "* * * * *"}, {"snapshots.schedule.stopped", "true"}}, false, {}},
        {"none", {}, true, {}},
    };
    SysTime now = at(2026, 11, 23, 10, 0, 7);
    SnapshotScheduler s(fake, [&] { return now; });
    EXPECT_EQ(s.until_next_minute(), milliseconds(53000 + 50));

    auto t = s.tick();
    EXPECT_EQ(t, (std::vector<std::string>{"every-minute/snap1", "hourly/h0", "stopped-too/snap0"}));
    ASSERT_EQ(fake.taken.size(), 3u);
    ASSERT_TRUE(fake.taken[0].second);
    EXPECT_EQ(*fake.taken[0].second, duration_cast<nanoseconds>((now + hours(2)).time_since_epoch()).count());
    EXPECT_FALSE(fake.taken[1].second);
    EXPECT_EQ(fake.expired, 1);

    // The same minute again: nothing new (expiry still runs).
    now += seconds(30);
    EXPECT_TRUE(s.tick().empty());
    EXPECT_EQ(fake.expired, 2);

    // The next minute: only the per-minute schedules.
    now = at(2026, 11, 23, 10, 1, 0);
    EXPECT_EQ(s.tick(), (std::vector<std::string>{"every-minute/snap2", "stopped-too/snap1"}));
}
