#include "lxm/core/config_keys.hpp"

#include <cctype>
#include <charconv>
#include <csignal>
#include <vector>

#include "lxm/apitypes/http_error.hpp"
#include "lxm/core/snapshot_schedule.hpp"
#include "lxm/core/proxy.hpp"

namespace lxm::core {

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::optional<int64_t> parse_int(std::string_view s) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

base::Unexpected bad_value(const std::string& key, const std::string& value, const std::string& why) {
    return apitypes::http_error(400, "Invalid value for config key \"" + key + "\" (\"" + value.substr(0, 64) +
                                         "\"): " + why);
}

bool valid_env_name(std::string_view n) {
    if (n.empty() || std::isdigit(static_cast<unsigned char>(n.front()))) return false;
    for (char c : n)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

}  // namespace

std::optional<bool> parse_bool(std::string_view t) {
    if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "0" || t == "no" || t == "off" || t.empty()) return false;
    return std::nullopt;
}

base::Result<int64_t> parse_bytes(std::string_view text) {
    size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == 0) return base::make_error(std::errc::invalid_argument, "expected a number of bytes with an optional unit");
    auto num = parse_int(text.substr(0, i));
    if (!num) return base::make_error(std::errc::invalid_argument, "number out of range");
    std::string unit(text.substr(i));
    static const std::vector<std::pair<std::string, int64_t>> units = {
        {"", 1},           {"B", 1},
        {"kB", 1000},      {"KB", 1000},       {"MB", 1000 * 1000},         {"GB", 1000LL * 1000 * 1000},
        {"TB", 1000LL * 1000 * 1000 * 1000},   {"KiB", 1024},               {"MiB", 1024 * 1024},
        {"GiB", 1024LL * 1024 * 1024},         {"TiB", 1024LL * 1024 * 1024 * 1024}};
    for (const auto& [u, mult] : units) {
        if (unit == u) {
            if (*num > INT64_MAX / mult) return base::make_error(std::errc::invalid_argument, "value too large");
            return *num * mult;
        }
    }
    return base::make_error(std::errc::invalid_argument,
                            "unknown unit \"" + unit + "\" (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)");
}

base::Result<int> parse_signal(std::string_view text) {
    if (auto n = parse_int(text); n) {
        if (*n < 1 || *n > SIGRTMAX) return base::make_error(std::errc::invalid_argument, "signal out of range");
        return static_cast<int>(*n);
    }
    std::string s(text);
    if (starts_with(s, "SIG")) s = s.substr(3);
    if (starts_with(s, "RTMIN")) {
        std::string rest = s.substr(5);
        int off = 0;
        if (!rest.empty()) {
            if (rest[0] != '+') return base::make_error(std::errc::invalid_argument, "bad signal " + std::string(text));
            auto n = parse_int(rest.substr(1));
            if (!n || *n < 0 || SIGRTMIN + *n > SIGRTMAX)
                return base::make_error(std::errc::invalid_argument, "bad signal " + std::string(text));
            off = static_cast<int>(*n);
        }
        return SIGRTMIN + off;
    }
    static const std::vector<std::pair<std::string, int>> names = {
        {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
        {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"PWR", SIGPWR},   {"CONT", SIGCONT}, {"STOP", SIGSTOP}};
    for (const auto& [n, v] : names)
        if (s == n) return v;
    return base::make_error(std::errc::invalid_argument, "unknown signal " + std::string(text));
}

base::Result<void> validate_config(const ConfigMap& config) {
    for (const auto& [key, value] : config) {
        if (key == "limits.cpu") {
            auto n = parse_int(value);
            if (!n || *n < 1 || *n > 4096) return bad_value(key, value, "expected a number of CPUs (1 or more)");
        } else if (key == "limits.memory") {
            auto b = parse_bytes(value);
            if (!b) return bad_value(key, value, b.error().context);
            if (*b < 4 * 1024 * 1024) return bad_value(key, value, "at least 4MiB");
        } else if (key == "limits.processes") {
            auto n = parse_int(value);
            if (!n || *n < 1) return bad_value(key, value, "expected a positive number");
        } else if (key == "snapshots.schedule") {
            if (auto c = CronSchedule::parse(value); !c) return bad_value(key, value, c.error().context);
        } else if (key == "snapshots.expiry") {
            if (auto e = expiry_time(std::chrono::system_clock::now(), value); !e)
                return bad_value(key, value, e.error().context);
        } else if (key == "snapshots.pattern") {
            if (auto n = snapshot_name_from_pattern(value, {}); !n) return bad_value(key, value, n.error().context);
        } else if (key == "boot.autostart" || key == "security.privileged" || key == "snapshots.schedule.stopped") {
            if (!parse_bool(value)) return bad_value(key, value, "expected true or false");
        } else if (starts_with(key, "environment.")) {
            if (!valid_env_name(key.substr(12)))
                return apitypes::http_error(400, "Invalid config key \"" + key.substr(0, 80) +
                                                     "\": not a valid environment variable name");
        } else if (starts_with(key, "user.") || starts_with(key, "image.")) {
            if (key.size() > 255) return apitypes::http_error(400, "Config key too long: " + key.substr(0, 80) + "...");
        } else if (starts_with(key, "volatile.")) {
            return apitypes::http_error(400, "Config key \"" + key.substr(0, 80) + "\" is reserved for the server");
        } else {
            return apitypes::http_error(400, "Unknown config key \"" + key.substr(0, 80) + "\"");
        }
    }
    return {};
}

base::Result<void> validate_devices(const DeviceMap& devices) {
    for (const auto& [name, dev] : devices) {
        if (name.empty() || name.size() > 64 || name.find('/') != std::string::npos)
            return apitypes::http_error(400, "Invalid device name \"" + name.substr(0, 64) + "\"");
        auto t = dev.find("type");
        if (t == dev.end()) return apitypes::http_error(400, "Device \"" + name + "\" has no type");
        if (t->second == "nic" || t->second == "none") continue;
        if (t->second == "proxy") {
            LXM_TRY_VOID(parse_proxy_device(name, dev));
            continue;
        }
        if (t->second == "disk") {
            auto p = dev.find("path");
            if (p != dev.end() && p->second == "/") continue;
            return apitypes::http_error(400, "Device \"" + name + "\": only the root disk (path \"/\") is supported");
        }
        return apitypes::http_error(400, "Device \"" + name + "\": unsupported device type \"" + t->second.substr(0, 32) +
                                             "\" (supported: nic, proxy, disk with path /, none)");
    }
    return {};
}

base::Result<ConfigMap> merge_user_config(const ConfigMap& current, const ConfigMap& user) {
    ConfigMap plain, out;
    for (const auto& [k, v] : user)
        if (!starts_with(k, "volatile.")) plain[k] = v;
    LXM_TRY_VOID(validate_config(plain));
    out = std::move(plain);
    for (const auto& [k, v] : current)
        if (starts_with(k, "volatile.")) out[k] = v;
    return out;
}

base::Result<runtime::CgroupLimits> limits_from_config(const ConfigMap& c) {
    runtime::CgroupLimits l;
    if (auto it = c.find("limits.cpu"); it != c.end()) {
        auto n = parse_int(it->second);
        if (!n || *n < 1) return bad_value(it->first, it->second, "expected a number of CPUs");
        l.cpu_quota_us = *n * l.cpu_period_us;
    }
    if (auto it = c.find("limits.memory"); it != c.end()) {
        auto b = parse_bytes(it->second);
        if (!b) return bad_value(it->first, it->second, b.error().context);
        l.memory_max = *b;
    }
    if (auto it = c.find("limits.processes"); it != c.end()) {
        auto n = parse_int(it->second);
        if (!n || *n < 1) return bad_value(it->first, it->second, "expected a positive number");
        l.pids_max = *n;
    }
    return l;
}

ConfigMap expand_config(const std::vector<const ConfigMap*>& layers) {
    ConfigMap out;
    for (const auto* l : layers)
        for (const auto& [k, v] : *l) out[k] = v;
    return out;
}

DeviceMap expand_devices(const std::vector<const DeviceMap*>& layers) {
    DeviceMap out;
    for (const auto* l : layers)
        for (const auto& [k, v] : *l) out[k] = v;
    return out;
}

}  // namespace lxm::core
