// Scheduled snapshots as LXD's instance keys (pure logic, unit-tested):
//
//   snapshots.schedule          cron "<minute> <hour> <day of month> <month> <day of week>"
//                               (numbers, *, lists a,b, ranges a-b, steps */n and a-b/n,
//                               month names JAN..DEC, day names SUN..SAT, 0 and 7 = Sunday;
//                               when both day fields are restricted either may match, as cron),
//                               or a comma-separated list of @hourly @daily @midnight @weekly
//                               @monthly @yearly @annually; empty = none. Local time.
//   snapshots.schedule.stopped  true: stopped instances too (default false)
//   snapshots.pattern           name of scheduled (and unnamed) snapshots, a pongo2 template as
//                               LXD's ({{ creation_date|date:'2006-01-02_15-04-05' }}); then "%d"
//                               (at most once) becomes one more than the highest number taken
//                               (default "snap%d"); a name without "%d" that is taken gets "-%d"
//   snapshots.expiry            e.g. "1d 2w": units M (minutes), H (hours), d, w, m (months),
//                               y; each snapshot gets expires_at = creation time + that
#pragma once

#include <array>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lxm/base/error.hpp"

namespace lxm::core {

using SysTime = std::chrono::system_clock::time_point;

class CronSchedule {
public:
    // EINVAL with the reason for a malformed expression.
    static base::Result<CronSchedule> parse(std::string_view text);
    // Whether the (local time) minute containing t matches.
    bool matches(SysTime t) const;
    // The first matching minute strictly after t (nullopt: none within 5 years).
    std::optional<SysTime> next_after(SysTime t) const;
    bool empty() const { return alternatives_.empty(); }

private:
    struct Fields {
        std::bitset<60> minute;
        std::bitset<24> hour;
        std::bitset<32> dom;   // 1..31
        std::bitset<13> month; // 1..12
        std::bitset<7> dow;    // 0..6, Sunday 0
        bool dom_star = true, dow_star = true;
    };
    bool matches_fields(const Fields& f, const std::tm& tm) const;
    std::vector<Fields> alternatives_;  // any may match
};

// Seconds to add for "1d 2w" style expressions (months and years are calendar
// steps: use expiry_time). EINVAL when malformed; "" -> nullopt (never).
base::Result<std::optional<SysTime>> expiry_time(SysTime created, std::string_view expr);

// The snapshot name for a pattern rendered at `now` ("snap%d" -> one more than the highest snapN;
// "{{ creation_date|date:'2006-01-02' }}" -> "2026-11-23", or "2026-11-23-0" when that is taken);
// EINVAL for a pattern that does not render or makes an invalid name.
base::Result<std::string> snapshot_name_from_pattern(std::string_view pattern, const std::vector<std::string>& taken,
                                                     std::optional<SysTime> now = std::nullopt);

}  // namespace lxm::core
