#include "lxm/runtime/cgroup_devices.hpp"

#include <charconv>

namespace lxm::runtime {

namespace {
constexpr uint8_t kRwm = DeviceRule::kMknod | DeviceRule::kRead | DeviceRule::kWrite;

std::string number(int64_t n) { return n == DeviceRule::kAny ? "*" : std::to_string(n); }

base::Result<int64_t> parse_number(std::string_view s, std::string_view line) {
    if (s == "*") return DeviceRule::kAny;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 0 || v > UINT32_MAX)
        return base::make_error(std::errc::invalid_argument,
                                "bad device number '" + std::string(s) + "' in rule '" + std::string(line) + "'");
    return v;
}
}  // namespace

const std::vector<DeviceRule>& default_device_rules() {
    static const std::vector<DeviceRule> rules = {
        {'c', DeviceRule::kAny, DeviceRule::kAny, DeviceRule::kMknod},  // mknod of any char device
        {'b', DeviceRule::kAny, DeviceRule::kAny, DeviceRule::kMknod},  // mknod of any block device
        {'c', 1, 3, kRwm},                                              // /dev/null
        {'c', 1, 5, kRwm},                                              // /dev/zero
        {'c', 1, 7, kRwm},                                              // /dev/full
        {'c', 1, 8, kRwm},                                              // /dev/random
        {'c', 1, 9, kRwm},                                              // /dev/urandom
        {'c', 5, 0, kRwm},                                              // /dev/tty
        {'c', 5, 1, kRwm},                                              // /dev/console
        {'c', 5, 2, kRwm},                                              // /dev/ptmx
        {'c', 136, DeviceRule::kAny, kRwm},                             // /dev/pts/*
        {'c', 10, 229, kRwm},                                           // /dev/fuse
        {'c', 10, 200, kRwm},                                           // /dev/net/tun
    };
    return rules;
}

std::string to_v1_line(const DeviceRule& rule) {
    std::string acc;
    if (rule.access & DeviceRule::kRead) acc += 'r';
    if (rule.access & DeviceRule::kWrite) acc += 'w';
    if (rule.access & DeviceRule::kMknod) acc += 'm';
    return std::string(1, rule.type) + " " + number(rule.major) + ":" + number(rule.minor) + " " + acc;
}

base::Result<void> validate_device_rule(const DeviceRule& rule) {
    auto bad = [&](const std::string& why) {
        return base::make_error(std::errc::invalid_argument, "device rule '" + to_v1_line(rule) + "': " + why);
    };
    if (rule.type != 'c' && rule.type != 'b' && rule.type != 'a') return bad("type must be c, b or a");
    for (int64_t n : {rule.major, rule.minor})
        if (n != DeviceRule::kAny && (n < 0 || n > UINT32_MAX)) return bad("device number out of range");
    if (rule.access == 0 || (rule.access & ~kRwm) != 0) return bad("access must be a non-empty subset of rwm");
    if (rule.type == 'a' && (rule.major != DeviceRule::kAny || rule.minor != DeviceRule::kAny))
        return bad("type a takes *:* only");
    return {};
}

base::Result<DeviceRule> parse_device_rule(std::string_view line) {
    auto bad = [&](const char* why) {
        return base::make_error(std::errc::invalid_argument, "device rule '" + std::string(line) + "': " + why);
    };
    DeviceRule r;
    if (line.size() < 2 || line[1] != ' ') return bad("expected '<type> <major>:<minor> <access>'");
    r.type = line[0];
    std::string_view rest = line.substr(2);
    auto sp = rest.find(' ');
    std::string_view nums = rest.substr(0, sp);
    std::string_view acc = sp == std::string_view::npos ? std::string_view("rwm") : rest.substr(sp + 1);
    auto colon = nums.find(':');
    if (colon == std::string_view::npos) {
        // The kernel accepts a bare "a" meaning everything.
        if (!(r.type == 'a' && nums.empty())) return bad("expected <major>:<minor>");
    } else {
        LXM_TRY(r.major, parse_number(nums.substr(0, colon), line));
        LXM_TRY(r.minor, parse_number(nums.substr(colon + 1), line));
    }
    r.access = 0;
    for (char c : acc) {
        if (c == 'r') r.access |= DeviceRule::kRead;
        else if (c == 'w') r.access |= DeviceRule::kWrite;
        else if (c == 'm') r.access |= DeviceRule::kMknod;
        else return bad("access must be made of r, w, m");
    }
    LXM_TRY_VOID(validate_device_rule(r));
    return r;
}

bool device_rules_allow(const std::vector<DeviceRule>& rules, char type, uint32_t major, uint32_t minor,
                        uint8_t access) {
    for (const auto& r : rules) {
        if (r.type != 'a' && r.type != type) continue;
        if ((access & ~r.access) != 0) continue;
        if (r.major != DeviceRule::kAny && static_cast<uint32_t>(r.major) != major) continue;
        if (r.minor != DeviceRule::kAny && static_cast<uint32_t>(r.minor) != minor) continue;
        return true;
    }
    return false;
}

}  // namespace lxm::runtime
