// Go's time.Format layouts ("2006-01-02_15-04-05"), for the pongo2 `date` filter of
// LXD's snapshots.pattern ({{ creation_date|date:'2006-01-02_15-04-05' }}). Pure logic.
//
// The reference time is Mon Jan 2 15:04:05 MST 2006; recognised chunks, as Go matches them:
//   2006 06  January Jan 1 01  Monday Mon  2 _2 02 __2 002  15 3 03  4 04  5 05  PM pm
//   MST  -07:00:00 -0700 -07:00 -07  Z07:00:00 Z0700 Z07:00 Z07  .000 .999 ,000 (fractions)
// Everything else is copied as it is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lxm::core {

// unix_ns in the local time zone (as Go's time.Now()), formatted by layout.
std::string go_time_format(int64_t unix_ns, std::string_view layout);
// The same for a broken-down time (tests): gmtoff seconds east of UTC, zone its abbreviation.
struct GoTime {
    int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
    int64_t nanos = 0;
    int weekday = 4;   // 0 = Sunday
    int yearday = 1;   // 1..366
    long gmtoff = 0;
    std::string zone = "UTC";
};
std::string go_time_format(const GoTime& t, std::string_view layout);
// Go's time.Time.String() form: "2006-01-02 15:04:05.999999999 -0700 MST".
std::string go_time_string(int64_t unix_ns);

}  // namespace lxm::core
