#include "lxm/api/router.hpp"

#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/log.hpp"

namespace lxm::api {
namespace {
std::vector<std::string> split_raw(std::string_view path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        if (path[i] == '/') {
            ++i;
            continue;
        }
        auto j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        out.emplace_back(path.substr(i, j - i));
        i = j;
    }
    return out;
}
bool is_capture(const std::string& s) { return s.size() >= 2 && s.front() == '{' && s.back() == '}'; }
}  // namespace

Router::Router() { alias("/1.0/containers", "/1.0/instances"); }

void Router::add(std::string_view method, std::string_view pattern, Route route) {
    auto segs = split_raw(pattern);
    for (auto& e : entries_) {
        if (e.segments == segs) {
            e.methods[std::string(method)] = std::move(route);
            return;
        }
    }
    Entry e;
    for (auto& s : segs)
        if (!is_capture(s)) ++e.literals;
    e.segments = std::move(segs);
    e.methods[std::string(method)] = std::move(route);
    entries_.push_back(std::move(e));
}

void Router::alias(std::string from, std::string to) { aliases_.emplace_back(std::move(from), std::move(to)); }

base::Result<Router::Match> Router::match(std::string_view method, std::string_view raw_path) const {
    std::vector<std::string> segs;
    for (auto& s : split_raw(raw_path)) segs.push_back(url_decode(s));
    Match m;
    for (auto& [from, to] : aliases_) {
        auto fs = split_raw(from);
        if (segs.size() >= fs.size() && std::equal(fs.begin(), fs.end(), segs.begin())) {
            auto ts = split_raw(to);
            segs.erase(segs.begin(), segs.begin() + static_cast<long>(fs.size()));
            segs.insert(segs.begin(), ts.begin(), ts.end());
            m.alias_prefix = from;
            break;
        }
    }
    for (auto& s : segs) m.canonical_path += "/" + s;
    if (m.canonical_path.empty()) m.canonical_path = "/";

    const Entry* best = nullptr;
    for (auto& e : entries_) {
        if (e.segments.size() != segs.size()) continue;
        bool ok = true;
        for (size_t i = 0; i < segs.size() && ok; ++i)
            ok = is_capture(e.segments[i]) ? !segs[i].empty() : e.segments[i] == segs[i];
        if (ok && (!best || e.literals > best->literals)) best = &e;
    }
    if (!best) return apitypes::http_error(404, "not found");
    auto it = best->methods.find(std::string(method));
    if (it == best->methods.end()) {
        std::string allow;
        for (auto& [mname, _] : best->methods) allow += (allow.empty() ? "" : ", ") + mname;
        return apitypes::http_error(405, "method not allowed (allowed: " + allow + ")");
    }
    for (size_t i = 0; i < segs.size(); ++i)
        if (is_capture(best->segments[i]))
            m.params[best->segments[i].substr(1, best->segments[i].size() - 2)] = segs[i];
    m.route = &it->second;
    return m;
}

std::vector<Router::RouteInfo> Router::list() const {
    std::vector<RouteInfo> out;
    for (const auto& e : entries_) {
        std::string pattern;
        for (const auto& s : e.segments) pattern += "/" + s;
        if (pattern.empty()) pattern = "/";
        for (const auto& [m, r] : e.methods) out.push_back({m, pattern, r.allow_untrusted});
    }
    return out;
}

Response invoke(const Route& route, const Request& req) {
    try {
        auto r = route.handler(req);
        if (!r) return Response::from_error(r.error());
        return std::move(*r);
    } catch (const std::exception& e) {
        LXM_ERROR("handler for {} {} threw: {}", req.method, req.path, e.what());
        return Response::error(500, std::string("internal error: ") + e.what());
    }
}

}  // namespace lxm::api
