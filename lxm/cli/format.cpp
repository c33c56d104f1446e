#include "lxm/cli/format.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <regex>

namespace lxm::cli {

namespace {

size_t display_width(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;  // count UTF-8 code points
    return n;
}

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        auto nl = s.find('\n', start);
        out.push_back(s.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::string render_table(const Row& header, const std::vector<Row>& rows) {
    std::vector<size_t> width(header.size(), 0);
    for (size_t i = 0; i < header.size(); ++i) width[i] = display_width(header[i]);
    for (auto& r : rows)
        for (size_t i = 0; i < r.size() && i < width.size(); ++i)
            for (auto& line : split_lines(r[i])) width[i] = std::max(width[i], display_width(line));

    std::string sep = "+";
    for (auto w : width) sep += std::string(w + 2, '-') + "+";
    sep += "\n";

    std::string out = sep + "|";
    for (size_t i = 0; i < header.size(); ++i) {
        size_t gap = width[i] - display_width(header[i]);
        size_t left = gap / 2;
        out += " " + std::string(left, ' ') + header[i] + std::string(gap - left, ' ') + " |";
    }
    out += "\n" + sep;
    for (auto& r : rows) {
        std::vector<std::vector<std::string>> cells(width.size());
        size_t height = 1;
        for (size_t i = 0; i < width.size(); ++i) {
            cells[i] = i < r.size() ? split_lines(r[i]) : std::vector<std::string>{""};
            height = std::max(height, cells[i].size());
        }
        for (size_t line = 0; line < height; ++line) {
            out += "|";
            for (size_t i = 0; i < width.size(); ++i) {
                std::string text = line < cells[i].size() ? cells[i][line] : "";
                out += " " + text + std::string(width[i] - display_width(text), ' ') + " |";
            }
            out += "\n";
        }
        out += sep;
    }
    return out;
}

std::string render_csv(const std::vector<Row>& rows) {
    std::string out;
    for (auto& r : rows) {
        for (size_t i = 0; i < r.size(); ++i) {
            if (i) out += ',';
            const auto& f = r[i];
            bool quote = f.find_first_of(",\"\r\n") != std::string::npos ||
                         (!f.empty() && (f.front() == ' ' || f.back() == ' '));
            if (!quote) {
                out += f;
                continue;
            }
            out += '"';
            for (char c : f) {
                if (c == '"') out += '"';
                out += c;
            }
            out += '"';
        }
        out += '\n';
    }
    return out;
}

// ---- YAML ----

namespace {

bool plain_safe(const std::string& s) {
    if (s.empty()) return false;
    static const std::vector<std::string> reserved = {"true", "false", "yes", "no", "on", "off", "y", "n",
                                                      "null", "~"};
    if (std::find(reserved.begin(), reserved.end(), lower(s)) != reserved.end()) return false;
    static const std::regex number(R"([-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))");
    if (std::regex_match(s, number)) return false;
    if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string_view::npos) {
        // "-x", "?x", ":x" are plain if followed by a non-space, but keep it simple and safe.
        return false;
    }
    if (std::isspace(static_cast<unsigned char>(s.front())) || std::isspace(static_cast<unsigned char>(s.back())))
        return false;
    if (s.back() == ':') return false;
    if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return false;
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

std::string yaml_scalar(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_object()) return "{}";
    if (v.is_array()) return "[]";
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        return plain_safe(s) ? s : json(s).dump();
    }
    return v.dump();
}

bool is_block(const json& v) { return (v.is_object() || v.is_array()) && !v.empty(); }

void emit_seq(const json& arr, size_t indent, std::string& out);

void emit_map(const json& obj, size_t indent, std::string& out) {
    for (auto& [k, v] : obj.items()) {
        out += std::string(indent, ' ') + yaml_scalar(json(k)) + ":";
        if (v.is_object() && !v.empty()) {
            out += "\n";
            emit_map(v, indent + 2, out);
        } else if (v.is_array() && !v.empty()) {
            out += "\n";
            emit_seq(v, indent, out);
        } else {
            out += " " + yaml_scalar(v) + "\n";
        }
    }
}

void emit_seq(const json& arr, size_t indent, std::string& out) {
    for (auto& item : arr) {
        if (!is_block(item)) {
            out += std::string(indent, ' ') + "- " + yaml_scalar(item) + "\n";
            continue;
        }
        std::string inner;
        if (item.is_object())
            emit_map(item, indent + 2, inner);
        else
            emit_seq(item, indent + 2, inner);
        // The first line's indentation becomes "- ".
        out += std::string(indent, ' ') + "- " + inner.substr(indent + 2);
    }
}

}  // namespace

std::string to_yaml(const json& v) {
    std::string out;
    if (v.is_object() && !v.empty())
        emit_map(v, 0, out);
    else if (v.is_array() && !v.empty())
        emit_seq(v, 0, out);
    else
        out = yaml_scalar(v) + "\n";
    return out;
}

// ---- arguments ----

base::Result<std::pair<std::string, std::string>> parse_key_value(std::string_view arg) {
    auto eq = arg.find('=');
    if (eq == std::string_view::npos || eq == 0)
        return base::make_error(std::errc::invalid_argument, "bad key=value pair: \"" + std::string(arg) + "\"");
    return std::pair{std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
}

namespace {
const std::vector<Column>& known_columns() {
    static const std::vector<Column> cols = {
        {'n', "NAME"},         {'s', "STATE"},   {'4', "IPV4"},        {'6', "IPV6"},
        {'t', "TYPE"},         {'S', "SNAPSHOTS"}, {'p', "PID"},       {'P', "PROFILES"},
        {'a', "ARCHITECTURE"}, {'c', "CREATED AT"}, {'l', "LAST USED AT"}, {'d', "DESCRIPTION"},
        {'m', "MEMORY USAGE"}, {'N', "PROCESSES"}, {'u', "CPU USAGE"},
    };
    return cols;
}
}  // namespace

base::Result<std::vector<Column>> parse_columns(std::string_view spec) {
    std::vector<Column> out;
    std::vector<std::string> tokens;
    if (spec.find(',') != std::string_view::npos) {
        size_t start = 0;
        for (;;) {
            auto comma = spec.find(',', start);
            tokens.emplace_back(spec.substr(start, comma == std::string_view::npos ? comma : comma - start));
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
    } else {
        for (char c : spec) tokens.emplace_back(1, c);
    }
    for (auto& t : tokens) {
        if (t.size() != 1)
            return base::make_error(std::errc::invalid_argument, "unknown column shorthand: \"" + t + "\"");
        auto& known = known_columns();
        auto it = std::find_if(known.begin(), known.end(), [&](const Column& c) { return c.key == t[0]; });
        if (it == known.end())
            return base::make_error(std::errc::invalid_argument, "unknown column shorthand char '" + t + "' in '" +
                                                                     std::string(spec) + "'");
        out.push_back(*it);
    }
    if (out.empty()) return base::make_error(std::errc::invalid_argument, "no columns given");
    return out;
}

namespace {

std::string addresses(const json& inst, const std::string& family) {
    std::vector<std::string> lines;
    auto st = inst.find("state");
    if (st == inst.end() || !st->is_object()) return "";
    auto net = st->find("network");
    if (net == st->end() || !net->is_object()) return "";
    for (auto& [iface, n] : net->items()) {
        if (iface == "lo" || !n.is_object() || !n.contains("addresses") || !n["addresses"].is_array()) continue;
        for (auto& a : n["addresses"]) {
            if (a.value("family", "") != family) continue;
            if (a.value("scope", "") == "link" || a.value("scope", "") == "local") continue;
            lines.push_back(a.value("address", "") + " (" + iface + ")");
        }
    }
    std::sort(lines.begin(), lines.end(), std::greater<>());  // as lxc list (reverse order)
    std::string out;
    for (auto& l : lines) out += (out.empty() ? "" : "\n") + l;
    return out;
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// RFC 3339 → "2006/01/02 15:04 UTC"
std::string short_time(const std::string& rfc3339) {
    if (rfc3339.size() < 16 || rfc3339.starts_with("0001-01-01")) return "";
    std::string d = rfc3339.substr(0, 10);
    std::replace(d.begin(), d.end(), '-', '/');
    return d + " " + rfc3339.substr(11, 5) + " UTC";
}

bool running(const json& inst) { return inst.value("status", "") == "Running"; }

int64_t state_int(const json& inst, const char* a, const char* b = nullptr) {
    auto st = inst.find("state");
    if (st == inst.end() || !st->is_object()) return 0;
    const json* v = &*st;
    if (!v->contains(a)) return 0;
    v = &(*v)[a];
    if (b) {
        if (!v->is_object() || !v->contains(b)) return 0;
        v = &(*v)[b];
    }
    return v->is_number() ? v->get<int64_t>() : 0;
}

}  // namespace

std::string column_value(const Column& c, const json& inst) {
    switch (c.key) {
    case 'n':
        return inst.value("name", "");
    case 's':
        return upper(inst.value("status", ""));
    case '4':
        return addresses(inst, "inet");
    case '6':
        return addresses(inst, "inet6");
    case 't': {
        std::string t = upper(inst.value("type", "container"));
        if (t.empty()) t = "CONTAINER";
        if (inst.value("ephemeral", false)) t += " (EPHEMERAL)";
        return t;
    }
    case 'S': {
        auto s = inst.find("snapshots");
        return std::to_string(s != inst.end() && s->is_array() ? s->size() : 0);
    }
    case 'p': {
        auto pid = state_int(inst, "pid");
        return running(inst) && pid > 0 ? std::to_string(pid) : "";
    }
    case 'P': {
        std::string out;
        if (inst.contains("profiles") && inst["profiles"].is_array())
            for (auto& p : inst["profiles"])
                if (p.is_string()) out += (out.empty() ? "" : "\n") + p.get<std::string>();
        return out;
    }
    case 'a':
        return inst.value("architecture", "");
    case 'c':
        return short_time(inst.value("created_at", ""));
    case 'l':
        return short_time(inst.value("last_used_at", ""));
    case 'd':
        return inst.value("description", "");
    case 'm':
        return running(inst) ? format_size(state_int(inst, "memory", "usage")) : "";
    case 'N':
        return running(inst) ? std::to_string(state_int(inst, "processes")) : "";
    case 'u':
        return running(inst) ? format_cpu_seconds(state_int(inst, "cpu", "usage")) : "";
    }
    return "";
}

std::string format_size(int64_t bytes) {
    if (bytes < 1024 && bytes > -1024) return std::to_string(bytes) + "B";
    static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = static_cast<double>(bytes);
    int u = -1;
    while ((v >= 1024 || v <= -1024) && u < 5) {
        v /= 1024;
        ++u;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f%s", v, units[u]);
    return buf;
}

std::string format_cpu_seconds(int64_t ns) { return std::to_string(ns / 1000000000) + "s"; }

std::string render_listing(const json& raw, const std::string& format, const Row& header, std::vector<Row> rows) {
    if (format == "json") return raw.dump() + "\n";
    if (format == "yaml") return to_yaml(raw);
    std::sort(rows.begin(), rows.end());
    return format == "csv" ? render_csv(rows) : render_table(header, rows);
}

}  // namespace lxm::cli
