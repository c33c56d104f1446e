#include "lxm/api/request.hpp"

#include <cctype>
#include <charconv>

namespace lxm::api {

const std::string& Request::param(const std::string& name) const {
    static const std::string empty;
    auto it = params.find(name);
    return it == params.end() ? empty : it->second;
}

std::optional<std::string> Request::query_value(const std::string& key) const {
    auto it = query.find(key);
    if (it == query.end()) return std::nullopt;
    return it->second;
}

std::string Request::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

int Request::recursion() const {
    auto v = query_value("recursion");
    int n = 0;
    if (v) std::from_chars(v->data(), v->data() + v->size(), n);
    return n;
}

std::string Request::project() const {
    auto v = query_value("project");
    return v && !v->empty() ? *v : "default";
}

const base::Result<json>& Request::json_body() const {
    if (!json_) {
        if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
            json_ = json::object();
        } else {
            json parsed = json::parse(body, nullptr, false);
            if (parsed.is_discarded())
                json_ = apitypes::http_error(400, "failed to parse request body: malformed JSON");
            else
                json_ = std::move(parsed);
        }
    }
    return *json_;
}

std::string Request::url(std::string_view canonical) const {
    constexpr std::string_view inst = "/1.0/instances";
    if (alias_prefix.empty() || !canonical.starts_with(inst)) return std::string(canonical);
    return alias_prefix + std::string(canonical.substr(inst.size()));
}

std::string url_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string url_encode(std::string_view s) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
    std::map<std::string, std::string> out;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto part = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (part.empty()) continue;
        auto eq = part.find('=');
        if (eq == std::string_view::npos)
            out[url_decode(part, true)] = "";
        else
            out[url_decode(part.substr(0, eq), true)] = url_decode(part.substr(eq + 1), true);
    }
    return out;
}

base::Result<Filter> parse_filter(std::string_view text) {
    auto trim = [](std::string_view v) {
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
        return v;
    };
    text = trim(text);
    auto sp = text.find(' ');
    if (sp != std::string_view::npos) {
        auto field = text.substr(0, sp);
        auto rest = trim(text.substr(sp + 1));
        if (rest.starts_with("eq ")) {
            auto value = trim(rest.substr(3));
            if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
                value = value.substr(1, value.size() - 2);
            if (!field.empty() && !value.empty() && value.find(' ') == std::string_view::npos)
                return Filter{std::string(field), std::string(value)};
        }
    }
    return apitypes::http_error(400, "unsupported filter \"" + std::string(text) +
                                         "\" (lxm supports a single \"<field> eq <value>\")");
}

bool Filter::matches(const json& obj) const {
    const json* cur = &obj;
    std::string_view rest = field;
    // Walk dotted paths; map keys may themselves contain dots (config.image.os), so try the
    // longest remaining key first.
    while (cur->is_object()) {
        if (auto it = cur->find(std::string(rest)); it != cur->end()) {
            cur = &*it;
            rest = {};
            break;
        }
        auto dot = rest.find('.');
        if (dot == std::string_view::npos) return false;
        auto it = cur->find(std::string(rest.substr(0, dot)));
        if (it == cur->end()) return false;
        cur = &*it;
        rest = rest.substr(dot + 1);
    }
    if (!rest.empty()) return false;
    if (cur->is_string()) return cur->get<std::string>() == value;
    return cur->dump() == value;
}

}  // namespace lxm::api
