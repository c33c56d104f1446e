#include "lxm/core/snapshot_schedule.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <set>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/core/names.hpp"
#include "lxm/core/template_render.hpp"

namespace lxm::core {

using base::Result;

namespace {

base::Unexpected bad(std::string_view text, const std::string& why) {
    return base::make_error(std::errc::invalid_argument, "invalid schedule \"" + std::string(text.substr(0, 64)) + "\": " + why);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        size_t p = s.find(sep, start);
        out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
        if (p == std::string_view::npos) break;
        start = p + 1;
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::optional<int> number(std::string_view s, const std::vector<std::string_view>& names, int names_base) {
    if (s.empty()) return std::nullopt;
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
    std::string up(s);
    for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (size_t i = 0; i < names.size(); ++i)
        if (up == names[i]) return static_cast<int>(i) + names_base;
    return std::nullopt;
}

// One field: sets bits [lo, hi] (values as written); returns whether it was "*".
template <size_t N>
Result<bool> parse_field(std::string_view text, std::string_view field, int lo, int hi, std::bitset<N>& bits,
                         const std::vector<std::string_view>& names = {}, int names_base = 0) {
    bool star = field == "*";
    for (auto part : split(field, ',')) {
        int step = 1;
        if (auto slash = part.find('/'); slash != std::string_view::npos) {
            auto s = number(part.substr(slash + 1), {}, 0);
            if (!s || *s < 1) return bad(text, "bad step in \"" + std::string(part) + "\"");
            step = *s;
            part = part.substr(0, slash);
            if (step != 1) star = false;
        }
        int a = lo, b = hi;
        if (part == "*") {
        } else if (auto dash = part.find('-'); dash != std::string_view::npos) {
            auto x = number(part.substr(0, dash), names, names_base);
            auto y = number(part.substr(dash + 1), names, names_base);
            if (!x || !y) return bad(text, "bad range \"" + std::string(part) + "\"");
            a = *x;
            b = *y;
        } else {
            auto x = number(part, names, names_base);
            if (!x) return bad(text, "bad value \"" + std::string(part) + "\"");
            a = *x;
            b = step > 1 ? hi : *x;  // "5/15" means 5-max/15
        }
        if (a < lo || b > hi || a > b)
            return bad(text, "\"" + std::string(part) + "\" out of range " + std::to_string(lo) + "-" + std::to_string(hi));
        for (int v = a; v <= b; v += step) bits.set(static_cast<size_t>(v));
    }
    return star;
}

std::tm local_tm(SysTime t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::localtime_r(&tt, &tm);
    return tm;
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(std::string_view text) {
    CronSchedule cs;
    std::string_view t = trim(text);
    if (t.empty()) return cs;
    if (t.front() == '@') {
        for (auto alias : split(t, ',')) {
            alias = trim(alias);
            std::string_view expr;
            if (alias == "@hourly") expr = "0 * * * *";
            else if (alias == "@daily" || alias == "@midnight") expr = "0 0 * * *";
            else if (alias == "@weekly") expr = "0 0 * * 0";
            else if (alias == "@monthly") expr = "0 0 1 * *";
            else if (alias == "@yearly" || alias == "@annually") expr = "0 0 1 1 *";
            else return bad(text, "unknown alias \"" + std::string(alias) + "\"");
            LXM_TRY(CronSchedule one, parse(expr));
            cs.alternatives_.push_back(one.alternatives_.front());
        }
        return cs;
    }
    std::vector<std::string_view> f;
    for (auto w : split(t, ' '))
        if (!trim(w).empty()) f.push_back(trim(w));
    if (f.size() != 5) return bad(text, "expected 5 fields (minute hour day-of-month month day-of-week) or an @alias");
    static const std::vector<std::string_view> months = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    static const std::vector<std::string_view> days = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
    Fields fl;
    LXM_TRY_VOID(parse_field(text, f[0], 0, 59, fl.minute));
    LXM_TRY_VOID(parse_field(text, f[1], 0, 23, fl.hour));
    LXM_TRY(fl.dom_star, parse_field(text, f[2], 1, 31, fl.dom));
    LXM_TRY_VOID(parse_field(text, f[3], 1, 12, fl.month, months, 1));
    std::bitset<8> dow;
    LXM_TRY(fl.dow_star, parse_field(text, f[4], 0, 7, dow, days, 0));
    for (size_t d = 0; d < 7; ++d) fl.dow[d] = dow[d];
    if (dow[7]) fl.dow.set(0);
    cs.alternatives_.push_back(fl);
    return cs;
}

bool CronSchedule::matches_fields(const Fields& f, const std::tm& tm) const {
    if (!f.minute[static_cast<size_t>(tm.tm_min)] || !f.hour[static_cast<size_t>(tm.tm_hour)] ||
        !f.month[static_cast<size_t>(tm.tm_mon + 1)])
        return false;
    bool dom = f.dom[static_cast<size_t>(tm.tm_mday)];
    bool dow = f.dow[static_cast<size_t>(tm.tm_wday)];
    if (!f.dom_star && !f.dow_star) return dom || dow;  // cron: either restricted day field
    return dom && dow;
}

bool CronSchedule::matches(SysTime t) const {
    std::tm tm = local_tm(t);
    for (const auto& f : alternatives_)
        if (matches_fields(f, tm)) return true;
    return false;
}

std::optional<SysTime> CronSchedule::next_after(SysTime t) const {
    if (alternatives_.empty()) return std::nullopt;
    auto m = std::chrono::floor<std::chrono::minutes>(t) + std::chrono::minutes(1);
    // Minute steps, skipping whole hours and days that cannot match.
    auto limit = m + std::chrono::hours(24 * 366 * 5);
    while (m < limit) {
        if (matches(m)) return SysTime(m);
        m += std::chrono::minutes(1);
    }
    return std::nullopt;
}

Result<std::optional<SysTime>> expiry_time(SysTime created, std::string_view expr) {
    std::string_view t = trim(expr);
    if (t.empty()) return std::optional<SysTime>();
    auto bad_expiry = [&](const std::string& why) {
        return base::make_error(std::errc::invalid_argument,
                                "invalid expiry \"" + std::string(t.substr(0, 64)) + "\": " + why +
                                    " (use e.g. \"1d 2w\"; units M minutes, H hours, d, w, m months, y)");
    };
    SysTime out = created;
    std::time_t tt = std::chrono::system_clock::to_time_t(created);
    std::tm tm{};
    ::localtime_r(&tt, &tm);
    int add_months = 0;
    for (auto w : split(t, ' ')) {
        w = trim(w);
        if (w.empty()) continue;
        char unit = w.back();
        int n = 0;
        auto [p, ec] = std::from_chars(w.data(), w.data() + w.size() - 1, n);
        if (w.size() < 2 || ec != std::errc() || p != w.data() + w.size() - 1 || n < 0)
            return bad_expiry("bad term \"" + std::string(w) + "\"");
        switch (unit) {
            case 'M': out += std::chrono::minutes(n); break;
            case 'H': out += std::chrono::hours(n); break;
            case 'd': out += std::chrono::hours(24) * n; break;
            case 'w': out += std::chrono::hours(24 * 7) * n; break;
            case 'm': add_months += n; break;
            case 'y': add_months += 12 * n; break;
            default: return bad_expiry("unknown unit '" + std::string(1, unit) + "'");
        }
    }
    if (add_months) {
        // Calendar months: the same day and time, n months on (mktime normalises overflow).
        std::tm m = tm;
        m.tm_mon += add_months;
        m.tm_isdst = -1;
        std::time_t shifted = ::mktime(&m);
        out += std::chrono::system_clock::from_time_t(shifted) - std::chrono::system_clock::from_time_t(tt);
    }
    return std::optional<SysTime>(out);
}

namespace {

// "<prefix><n><suffix>" with n one more than the highest such number taken (0 when none).
std::string next_numbered(const std::string& prefix, const std::string& suffix, const std::vector<std::string>& taken) {
    long next = 0;
    for (const auto& n : taken) {
        if (n.size() <= prefix.size() + suffix.size() || !n.starts_with(prefix) || !n.ends_with(suffix)) continue;
        std::string digits = n.substr(prefix.size(), n.size() - prefix.size() - suffix.size());
        if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        next = std::max(next, std::stol(digits) + 1);
    }
    return prefix + std::to_string(next) + suffix;
}

}  // namespace

Result<std::string> snapshot_name_from_pattern(std::string_view pattern, const std::vector<std::string>& taken,
                                               std::optional<SysTime> now) {
    std::string p(trim(pattern));
    if (p.empty()) p = "snap%d";
    if (p.find("{{") != std::string::npos || p.find("{%") != std::string::npos || p.find("{#") != std::string::npos) {
        TemplateContext ctx;
        SysTime t = now.value_or(std::chrono::system_clock::now());
        ctx.creation_date = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
        auto r = render_template(p, ctx, "snapshots.pattern");
        if (!r) return base::make_error(std::errc::invalid_argument, r.error().context);
        p = std::string(trim(*r));
    }
    auto pos = p.find("%d");
    if (pos != std::string::npos && p.find("%d", pos + 2) != std::string::npos)
        return base::make_error(std::errc::invalid_argument, "snapshots.pattern may contain \"%d\" only once");
    std::set<std::string> used(taken.begin(), taken.end());
    std::string name;
    if (pos != std::string::npos) {
        // As LXD: one more than the highest number used with this pattern.
        name = next_numbered(p.substr(0, pos), p.substr(pos + 2), taken);
    } else {
        // As LXD: a fixed name that is taken gets "-<n>".
        name = used.count(p) ? next_numbered(p + "-", "", taken) : p;
    }
    if (name.find('/') != std::string::npos || name.starts_with("."))
        return base::make_error(std::errc::invalid_argument, "snapshots.pattern must not make a name with '/' or a leading '.'");
    if (auto v = validate_object_name("Snapshot", name); !v)
        return base::make_error(std::errc::invalid_argument,
                                "snapshots.pattern makes the name \"" + name.substr(0, 64) + "\": " +
                                    apitypes::user_message(v.error()));
    if (used.count(name)) return base::make_error(std::errc::file_exists, "no free snapshot name for pattern " + p);
    return name;
}

}  // namespace lxm::core
