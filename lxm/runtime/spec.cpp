#include "lxm/runtime/spec.hpp"

#include <algorithm>

namespace lxm::runtime {

using nlohmann::json;

std::optional<uint32_t> IdMap::host_root_uid() const {
    for (const auto& e : uid)
        if (e.inside == 0 && e.count > 0) return e.outside;
    return std::nullopt;
}

std::optional<uint32_t> IdMap::host_root_gid() const {
    for (const auto& e : gid)
        if (e.inside == 0 && e.count > 0) return e.outside;
    return std::nullopt;
}

int default_stop_signal_for_init(const std::string& kind) {
    if (kind == "sysvinit") return SIGPWR;
    if (kind == "busybox") return SIGUSR2;
    return SIGRTMIN + 3;  // systemd
}

void to_json(json& j, const IdMapEntry& e) { j = json::array({e.inside, e.outside, e.count}); }
void from_json(const json& j, IdMapEntry& e) {
    e.inside = j.at(0).get<uint32_t>();
    e.outside = j.at(1).get<uint32_t>();
    e.count = j.at(2).get<uint32_t>();
}
void to_json(json& j, const IdMap& m) { j = json{{"uid", m.uid}, {"gid", m.gid}}; }
void from_json(const json& j, IdMap& m) {
    j.at("uid").get_to(m.uid);
    j.at("gid").get_to(m.gid);
}

namespace {
template <typename T>
void put_opt(json& j, const char* k, const std::optional<T>& v) {
    if (v) j[k] = *v;
}
template <typename T>
void get_opt(const json& j, const char* k, std::optional<T>& v) {
    if (auto it = j.find(k); it != j.end() && !it->is_null()) v = it->get<T>();
}
template <typename T>
void get_if(const json& j, const char* k, T& v) {
    if (auto it = j.find(k); it != j.end() && !it->is_null()) it->get_to(v);
}
}  // namespace

void to_json(json& j, const CgroupLimits& l) {
    j = json::object();
    put_opt(j, "memory_max", l.memory_max);
    put_opt(j, "memory_swap_max", l.memory_swap_max);
    put_opt(j, "cpu_quota_us", l.cpu_quota_us);
    j["cpu_period_us"] = l.cpu_period_us;
    put_opt(j, "cpu_weight", l.cpu_weight);
    put_opt(j, "pids_max", l.pids_max);
    put_opt(j, "io_weight", l.io_weight);
}
void from_json(const json& j, CgroupLimits& l) {
    get_opt(j, "memory_max", l.memory_max);
    get_opt(j, "memory_swap_max", l.memory_swap_max);
    get_opt(j, "cpu_quota_us", l.cpu_quota_us);
    get_if(j, "cpu_period_us", l.cpu_period_us);
    get_opt(j, "cpu_weight", l.cpu_weight);
    get_opt(j, "pids_max", l.pids_max);
    get_opt(j, "io_weight", l.io_weight);
}

void to_json(json& j, const Spec& s) {
    j = json{{"name", s.name},
             {"rootfs", s.rootfs},
             {"upper_dir", s.upper_dir},
             {"work_dir", s.work_dir},
             {"run_dir", s.run_dir},
             {"log_dir", s.log_dir},
             {"privileged", s.privileged},
             {"idmap", s.idmap},
             {"hostname", s.hostname},
             {"init", s.init},
             {"env", s.env},
             {"stop_signal", s.stop_signal},
             {"limits", s.limits},
             {"cgroup_parent", s.cgroup_parent},
             {"net_links", s.net_links},
             {"share_host_net", s.share_host_net},
             {"apparmor_profile", s.apparmor_profile},
             {"seccomp_policy", s.seccomp_policy},
             {"seccomp", s.seccomp}};
}
void from_json(const json& j, Spec& s) {
    j.at("name").get_to(s.name);
    j.at("rootfs").get_to(s.rootfs);
    get_if(j, "upper_dir", s.upper_dir);
    get_if(j, "work_dir", s.work_dir);
    j.at("run_dir").get_to(s.run_dir);
    j.at("log_dir").get_to(s.log_dir);
    get_if(j, "privileged", s.privileged);
    get_if(j, "idmap", s.idmap);
    get_if(j, "hostname", s.hostname);
    get_if(j, "init", s.init);
    get_if(j, "env", s.env);
    get_if(j, "stop_signal", s.stop_signal);
    get_if(j, "limits", s.limits);
    get_if(j, "cgroup_parent", s.cgroup_parent);
    get_if(j, "net_links", s.net_links);
    get_if(j, "share_host_net", s.share_host_net);
    get_if(j, "apparmor_profile", s.apparmor_profile);
    get_if(j, "seccomp_policy", s.seccomp_policy);
    get_if(j, "seccomp", s.seccomp);
}

namespace {
bool valid_name(const std::string& n) {
    if (n.empty() || n.size() > 63) return false;
    if (n.front() == '-' || n.back() == '-') return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    });
}
bool absolute(const std::string& p) { return !p.empty() && p.front() == '/'; }
}  // namespace

base::Result<void> validate(const Spec& s) {
    using base::make_error;
    if (!valid_name(s.name))
        return make_error(std::errc::invalid_argument,
                          "invalid container name '" + s.name + "' (1-63 letters, digits and dashes)");
    if (!absolute(s.rootfs)) return make_error(std::errc::invalid_argument, "rootfs must be an absolute path");
    if (!absolute(s.run_dir) || !absolute(s.log_dir))
        return make_error(std::errc::invalid_argument, "run_dir and log_dir must be absolute paths");
    if (s.upper_dir.empty() != s.work_dir.empty())
        return make_error(std::errc::invalid_argument, "upper_dir and work_dir go together");
    if (s.init.empty() || !absolute(s.init.front()))
        return make_error(std::errc::invalid_argument, "init must be an absolute path");
    if (!s.privileged) {
        if (!s.idmap.host_root_uid() || !s.idmap.host_root_gid())
            return make_error(std::errc::invalid_argument,
                              "an unprivileged container needs an id map with container root (0) mapped");
        for (const auto* m : {&s.idmap.uid, &s.idmap.gid})
            for (const auto& e : *m)
                if (e.outside == 0 || e.count == 0 || uint64_t(e.outside) + e.count > 0xFFFFFFFFull)
                    return make_error(std::errc::invalid_argument,
                                      "id map entries must be non-empty and must not map host root");
    }
    if (s.stop_signal <= 0 || s.stop_signal >= NSIG)
        return make_error(std::errc::invalid_argument, "invalid stop signal");
    for (const auto& l : s.net_links)
        if (l.find('=') == std::string::npos)
            return make_error(std::errc::invalid_argument, "net link '" + l + "' must be host=inside");
    return {};
}

}  // namespace lxm::runtime
