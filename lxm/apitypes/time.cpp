#include "lxm/apitypes/time.hpp"

#include <cstdio>
#include <ctime>

namespace lxm::apitypes {

Timestamp now() { return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now()); }

std::string format_rfc3339(Timestamp t) {
    if (t == zero_time()) return "0001-01-01T00:00:00Z";
    auto secs = std::chrono::floor<std::chrono::seconds>(t);
    long long ns = (t - secs).count();
    std::time_t tt = secs.time_since_epoch().count();
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    std::string out(buf, static_cast<size_t>(n));
    if (ns != 0) {
        char frac[16];
        std::snprintf(frac, sizeof frac, "%09lld", ns);
        std::string f(frac);
        while (!f.empty() && f.back() == '0') f.pop_back();
        out += "." + f;
    }
    out += "Z";
    return out;
}

base::Result<Timestamp> parse_rfc3339(std::string_view s) {
    auto bad = [&] { return base::make_error(std::errc::invalid_argument, "invalid RFC 3339 time \"" + std::string(s) + "\""); };
    auto digits = [&](size_t pos, size_t len, int& out) {
        if (pos + len > s.size()) return false;
        int v = 0;
        for (size_t i = pos; i < pos + len; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            v = v * 10 + (s[i] - '0');
        }
        out = v;
        return true;
    };
    std::tm tm{};
    int year, mon, day, hh, mm, ss;
    if (s.size() < 20 || !digits(0, 4, year) || s[4] != '-' || !digits(5, 2, mon) || s[7] != '-' ||
        !digits(8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, hh) ||
        s[13] != ':' || !digits(14, 2, mm) || s[16] != ':' || !digits(17, 2, ss))
        return bad();
    size_t pos = 19;
    long long ns = 0;
    if (s[pos] == '.') {
        ++pos;
        int ndig = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (ndig < 9) {
                ns = ns * 10 + (s[pos] - '0');
                ++ndig;
            }
            ++pos;
        }
        if (ndig == 0) return bad();
        for (; ndig < 9; ++ndig) ns *= 10;
    }
    long offset = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh, om;
        if (!digits(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(pos + 4, 2, om))
            return bad();
        offset = (oh * 3600L + om * 60L) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return bad();
    }
    if (pos != s.size() || mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return bad();
    if (year < 1678 || year > 2261) return zero_time();
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    std::time_t tt = ::timegm(&tm) - offset;
    return Timestamp{std::chrono::seconds(tt)} + std::chrono::nanoseconds(ns);
}

}  // namespace lxm::apitypes

namespace nlohmann {
void adl_serializer<lxm::apitypes::Timestamp>::to_json(json& j, const lxm::apitypes::Timestamp& t) {
    j = lxm::apitypes::format_rfc3339(t);
}
void adl_serializer<lxm::apitypes::Timestamp>::from_json(const json& j, lxm::apitypes::Timestamp& t) {
    if (j.is_null()) {
        t = lxm::apitypes::zero_time();
        return;
    }
    auto r = lxm::apitypes::parse_rfc3339(j.get<std::string>());
    if (!r) throw json::type_error::create(302, r.error().context, &j);
    t = *r;
}
}  // namespace nlohmann
