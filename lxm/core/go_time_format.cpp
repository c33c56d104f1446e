#include "lxm/core/go_time_format.hpp"

#include <algorithm>
#include <ctime>

namespace lxm::core {

namespace {

constexpr const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                   "July",    "August",   "September", "October", "November", "December"};
constexpr const char* kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

std::string pad(int64_t v, int width, char fill = '0') {
    std::string s = std::to_string(v < 0 ? -v : v);
    while (static_cast<int>(s.size()) < width) s.insert(s.begin(), fill);
    return v < 0 ? "-" + s : s;
}

bool at(std::string_view l, size_t i, std::string_view what) { return l.substr(i, what.size()) == what; }

// "-07:00"-style offsets. colon: between hours and minutes; seconds: also ":ss"/"ss"; z: "Z" for UTC.
std::string offset(long gmtoff, bool colon, bool minutes, bool seconds, bool z) {
    if (z && gmtoff == 0) return "Z";
    std::string s = gmtoff < 0 ? "-" : "+";
    long a = gmtoff < 0 ? -gmtoff : gmtoff;
    s += pad(a / 3600, 2);
    if (minutes) s += (colon ? ":" : "") + pad(a / 60 % 60, 2);
    if (seconds) s += (colon ? ":" : "") + pad(a % 60, 2);
    return s;
}

}  // namespace

std::string go_time_format(const GoTime& t, std::string_view l) {
    std::string out;
    const int h12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
    const char* month = kMonths[(t.month - 1) % 12];
    const char* day = kDays[t.weekday % 7];
    for (size_t i = 0; i < l.size();) {
        auto take = [&](std::string_view chunk, const std::string& text) {
            if (!at(l, i, chunk)) return false;
            out += text;
            i += chunk.size();
            return true;
        };
        switch (l[i]) {
            case 'J':
                if (take("January", month) || take("Jan", std::string(month, 3))) continue;
                break;
            case 'M':
                if (take("Monday", day) || take("Mon", std::string(day, 3)) || take("MST", t.zone)) continue;
                break;
            case '0':
                if (take("002", pad(t.yearday, 3)) || take("01", pad(t.month, 2)) || take("02", pad(t.day, 2)) ||
                    take("03", pad(h12, 2)) || take("04", pad(t.minute, 2)) || take("05", pad(t.second, 2)) ||
                    take("06", pad(t.year % 100, 2)))
                    continue;
                break;
            case '1':
                if (take("15", pad(t.hour, 2)) || take("1", std::to_string(t.month))) continue;
                break;
            case '2':
                if (take("2006", pad(t.year, 4)) || take("2", std::to_string(t.day))) continue;
                break;
            case '_':
                if (at(l, i, "_2006")) {  // as Go: "_" then the year
                    out += "_";
                    ++i;
                    continue;
                }
                if (take("__2", pad(t.yearday, 3, ' ')) || take("_2", pad(t.day, 2, ' '))) continue;
                break;
            case '3':
                out += std::to_string(h12);
                ++i;
                continue;
            case '4':
                out += std::to_string(t.minute);
                ++i;
                continue;
            case '5':
                out += std::to_string(t.second);
                ++i;
                continue;
            case 'P':
                if (take("PM", t.hour >= 12 ? "PM" : "AM")) continue;
                break;
            case 'p':
                if (take("pm", t.hour >= 12 ? "pm" : "am")) continue;
                break;
            case '-':
                if (take("-07:00:00", offset(t.gmtoff, true, true, true, false)) ||
                    take("-070000", offset(t.gmtoff, false, true, true, false)) ||
                    take("-07:00", offset(t.gmtoff, true, true, false, false)) ||
                    take("-0700", offset(t.gmtoff, false, true, false, false)) ||
                    take("-07", offset(t.gmtoff, false, false, false, false)))
                    continue;
                break;
            case 'Z':
                if (take("Z07:00:00", offset(t.gmtoff, true, true, true, true)) ||
                    take("Z070000", offset(t.gmtoff, false, true, true, true)) ||
                    take("Z07:00", offset(t.gmtoff, true, true, false, true)) ||
                    take("Z0700", offset(t.gmtoff, false, true, false, true)) ||
                    take("Z07", offset(t.gmtoff, false, false, false, true)))
                    continue;
                break;
            case '.':
            case ',':
                if (i + 1 < l.size() && (l[i + 1] == '0' || l[i + 1] == '9')) {
                    char d = l[i + 1];
                    size_t j = i + 1;
                    while (j < l.size() && l[j] == d) ++j;
                    if (j == l.size() || l[j] < '0' || l[j] > '9') {
                        size_t n = std::min<size_t>(j - i - 1, 9);
                        std::string frac = pad(t.nanos, 9).substr(0, n);
                        if (d == '9')
                            while (!frac.empty() && frac.back() == '0') frac.pop_back();
                        if (!frac.empty()) out += std::string(1, l[i]) + frac;
                        i = j;
                        continue;
                    }
                }
                break;
            default: break;
        }
        out += l[i++];
    }
    return out;
}

namespace {
GoTime local(int64_t unix_ns) {
    std::time_t secs = static_cast<std::time_t>(unix_ns / 1000000000);
    int64_t nanos = unix_ns % 1000000000;
    if (nanos < 0) {
        nanos += 1000000000;
        --secs;
    }
    std::tm tm{};
    ::localtime_r(&secs, &tm);
    GoTime t;
    t.year = tm.tm_year + 1900;
    t.month = tm.tm_mon + 1;
    t.day = tm.tm_mday;
    t.hour = tm.tm_hour;
    t.minute = tm.tm_min;
    t.second = tm.tm_sec;
    t.nanos = nanos;
    t.weekday = tm.tm_wday;
    t.yearday = tm.tm_yday + 1;
    t.gmtoff = tm.tm_gmtoff;
    t.zone = tm.tm_zone ? tm.tm_zone : "UTC";
    return t;
}
}  // namespace

std::string go_time_format(int64_t unix_ns, std::string_view layout) { return go_time_format(local(unix_ns), layout); }

std::string go_time_string(int64_t unix_ns) { return go_time_format(unix_ns, "2006-01-02 15:04:05.999999999 -0700 MST"); }

}  // namespace lxm::core
