#include "lxm/core/template_render.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "lxm/core/go_time_format.hpp"

namespace lxm::core {

namespace {

// ---- values ----------------------------------------------------------------------------------

struct Value {
    enum class Kind { nil, str, integer, boolean, map, devices, time } kind = Kind::nil;  // time: unix ns in i
    std::string s{};
    int64_t i = 0;
    bool b = false;
    const StringMap* m = nullptr;
    const std::map<std::string, StringMap>* dm = nullptr;

    static Value str(std::string v) { return Value{Kind::str, std::move(v)}; }
    static Value integer(int64_t v) { return Value{Kind::integer, {}, v}; }
    static Value boolean(bool v) { return Value{Kind::boolean, {}, 0, v}; }
    static Value map(const StringMap* v) { return Value{Kind::map, {}, 0, false, v}; }
    static Value devices(const std::map<std::string, StringMap>* v) { return Value{Kind::devices, {}, 0, false, nullptr, v}; }
    static Value time(int64_t ns) { return Value{Kind::time, {}, ns}; }
};

bool truthy(const Value& v) {
    switch (v.kind) {
        case Value::Kind::nil: return false;
        case Value::Kind::str: return !v.s.empty();
        case Value::Kind::integer: return v.i != 0;
        case Value::Kind::boolean: return v.b;
        case Value::Kind::map: return !v.m->empty();
        case Value::Kind::devices: return !v.dm->empty();
        case Value::Kind::time: return true;
    }
    return false;
}

// Text form (for output, filters and lookups); nullopt for maps.
std::optional<std::string> text_of(const Value& v) {
    switch (v.kind) {
        case Value::Kind::nil: return std::string();
        case Value::Kind::str: return v.s;
        case Value::Kind::integer: return std::to_string(v.i);
        case Value::Kind::boolean: return std::string(v.b ? "True" : "False");  // as pongo2 prints bools
        case Value::Kind::time: return go_time_string(v.i);
        default: return std::nullopt;
    }
}

// pongo2's ==: integers by value, everything else by type and value (nil == "" is false).
bool equal(const Value& a, const Value& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case Value::Kind::nil: return true;
        case Value::Kind::str: return a.s == b.s;
        case Value::Kind::integer: return a.i == b.i;
        case Value::Kind::boolean: return a.b == b.b;
        case Value::Kind::map: return a.m == b.m;
        case Value::Kind::devices: return a.dm == b.dm;
        case Value::Kind::time: return a.i == b.i;
    }
    return false;
}

// For < > <= >=: as pongo2, both sides as integers (text that is not a number counts as 0).
int64_t as_integer(const Value& v) {
    if (v.kind == Value::Kind::integer) return v.i;
    if (v.kind == Value::Kind::boolean) return v.b ? 1 : 0;
    if (v.kind == Value::Kind::str) {
        try {
            size_t used = 0;
            int64_t n = std::stoll(v.s, &used);
            return used == v.s.size() ? n : 0;
        } catch (...) {
            return 0;
        }
    }
    return 0;
}

// ---- expressions -----------------------------------------------------------------------------

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind { literal, name, attr, index, config_get, negate, conj, disj, compare, filter } kind;
    Value literal{};
    std::string text{};  // name, attribute, comparison operator or filter name
    std::vector<ExprPtr> args{};
};

ExprPtr make(Expr::Kind k, std::string text = {}, std::vector<ExprPtr> args = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->text = std::move(text);
    e->args = std::move(args);
    return e;
}

struct Token {
    enum class Kind { name, string, number, op, end } kind = Kind::end;
    std::string text{};
};

struct ParseError {
    std::string message;
};

// Tokens of one {{ }} or {% %} body.
std::vector<Token> tokenize(std::string_view s) {
    std::vector<Token> out;
    size_t i = 0;
    while (i < s.size()) {
        char c = s[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
            continue;
        }
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            size_t b = i;
            while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
            out.push_back({Token::Kind::name, std::string(s.substr(b, i - b))});
            continue;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) {
            size_t b = i;
            while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
            out.push_back({Token::Kind::number, std::string(s.substr(b, i - b))});
            continue;
        }
        if (c == '"' || c == '\'') {
            std::string v;
            ++i;
            bool closed = false;
            while (i < s.size()) {
                char d = s[i++];
                if (d == c) {
                    closed = true;
                    break;
                }
                if (d == '\\') {
                    if (i >= s.size()) break;
                    char e = s[i++];
                    switch (e) {
                        case 'n': v += '\n'; break;
                        case 't': v += '\t'; break;
                        case '\\': case '"': case '\'': v += e; break;
                        default: throw ParseError{std::string("unknown escape \\") + e + " in a string"};
                    }
                    continue;
                }
                v += d;
            }
            if (!closed) throw ParseError{"unterminated string"};
            out.push_back({Token::Kind::string, std::move(v)});
            continue;
        }
        static constexpr std::string_view two[] = {"==", "!=", "<=", ">=", "&&", "||", "<>"};
        bool matched = false;
        for (auto op : two) {
            if (s.substr(i, 2) == op) {
                out.push_back({Token::Kind::op, std::string(op == "<>" ? "!=" : op)});
                i += 2;
                matched = true;
                break;
            }
        }
        if (matched) continue;
        if (std::string_view("()[].,|:<>!").find(c) != std::string_view::npos) {
            out.push_back({Token::Kind::op, std::string(1, c)});
            ++i;
            continue;
        }
        throw ParseError{std::string("unexpected character '") + c + "'"};
    }
    out.push_back({Token::Kind::end, {}});
    return out;
}

std::string describe(const Token& t) {
    switch (t.kind) {
        case Token::Kind::end: return "end of expression";
        case Token::Kind::string: return "string \"" + t.text + "\"";
        default: return "'" + t.text + "'";
    }
}

class ExprParser {
public:
    explicit ExprParser(std::vector<Token> toks) : t_(std::move(toks)) {}

    ExprPtr parse_all() {
        ExprPtr e = parse_or();
        if (peek().kind != Token::Kind::end) throw ParseError{"unexpected " + describe(peek())};
        return e;
    }

private:
    const Token& peek() const { return t_[p_]; }
    bool is_op(const char* op) const { return peek().kind == Token::Kind::op && peek().text == op; }
    bool is_word(const char* w) const { return peek().kind == Token::Kind::name && peek().text == w; }
    void expect_op(const char* op) {
        if (!is_op(op)) throw ParseError{std::string("expected '") + op + "', found " + describe(peek())};
        ++p_;
    }

    ExprPtr parse_or() {
        ExprPtr l = parse_and();
        while (is_word("or") || is_op("||")) {
            ++p_;
            std::vector<ExprPtr> a;
            a.push_back(std::move(l));
            a.push_back(parse_and());
            l = make(Expr::Kind::disj, {}, std::move(a));
        }
        return l;
    }
    ExprPtr parse_and() {
        ExprPtr l = parse_not();
        while (is_word("and") || is_op("&&")) {
            ++p_;
            std::vector<ExprPtr> a;
            a.push_back(std::move(l));
            a.push_back(parse_not());
            l = make(Expr::Kind::conj, {}, std::move(a));
        }
        return l;
    }
    ExprPtr parse_not() {
        if (is_word("not") || is_op("!")) {
            ++p_;
            std::vector<ExprPtr> a;
            a.push_back(parse_not());
            return make(Expr::Kind::negate, {}, std::move(a));
        }
        return parse_compare();
    }
    ExprPtr parse_compare() {
        ExprPtr l = parse_filtered();
        std::string op;
        if (peek().kind == Token::Kind::op &&
            (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == ">" ||
             peek().text == "<=" || peek().text == ">="))
            op = peek().text;
        else if (is_word("in"))
            op = "in";
        else if (is_word("not") && p_ + 1 < t_.size() && t_[p_ + 1].kind == Token::Kind::name && t_[p_ + 1].text == "in")
            op = "not in";
        if (op.empty()) return l;
        p_ += op == "not in" ? 2 : 1;
        std::vector<ExprPtr> a;
        a.push_back(std::move(l));
        a.push_back(parse_filtered());
        return make(Expr::Kind::compare, op, std::move(a));
    }
    ExprPtr parse_filtered() {
        ExprPtr e = parse_primary();
        while (is_op("|")) {
            ++p_;
            if (peek().kind != Token::Kind::name) throw ParseError{"expected a filter name after '|'"};
            std::string f = peek().text;
            ++p_;
            if (f != "default" && f != "lower" && f != "upper" && f != "trim" && f != "date")
                throw ParseError{"unknown filter '" + f + "' (supported: default, lower, upper, trim, date)"};
            std::vector<ExprPtr> a;
            a.push_back(std::move(e));
            if (is_op(":")) {
                ++p_;
                a.push_back(parse_primary());
            }
            if (f == "default" && a.size() != 2) throw ParseError{"filter 'default' needs an argument (default:\"x\")"};
            if (f == "date" && a.size() != 2) throw ParseError{"filter 'date' needs a Go layout (date:\"2006-01-02\")"};
            if (f != "default" && f != "date" && a.size() != 1) throw ParseError{"filter '" + f + "' takes no argument"};
            e = make(Expr::Kind::filter, f, std::move(a));
        }
        return e;
    }
    ExprPtr parse_primary() {
        const Token& t = peek();
        if (t.kind == Token::Kind::string) {
            ++p_;
            auto e = make(Expr::Kind::literal);
            e->literal = Value::str(t.text);
            return e;
        }
        if (t.kind == Token::Kind::number) {
            ++p_;
            auto e = make(Expr::Kind::literal);
            try {
                e->literal = Value::integer(std::stoll(t.text));
            } catch (...) {
                throw ParseError{"number out of range: " + t.text};
            }
            return e;
        }
        if (is_op("(")) {
            ++p_;
            ExprPtr e = parse_or();
            expect_op(")");
            return e;
        }
        if (t.kind != Token::Kind::name) throw ParseError{"unexpected " + describe(t)};
        std::string name = t.text;
        ++p_;
        if (name == "true" || name == "True" || name == "false" || name == "False") {
            auto e = make(Expr::Kind::literal);
            e->literal = Value::boolean(name[0] == 't' || name[0] == 'T');
            return e;
        }
        if (name == "and" || name == "or" || name == "not" || name == "in")
            throw ParseError{"unexpected '" + name + "'"};
        ExprPtr e;
        if (is_op("(")) {
            ++p_;
            if (name != "config_get") throw ParseError{"unknown function '" + name + "' (supported: config_get)"};
            std::vector<ExprPtr> a;
            if (!is_op(")")) {
                a.push_back(parse_or());
                while (is_op(",")) {
                    ++p_;
                    a.push_back(parse_or());
                }
            }
            expect_op(")");
            if (a.size() != 2) throw ParseError{"config_get takes 2 arguments (key, default)"};
            e = make(Expr::Kind::config_get, name, std::move(a));
        } else {
            e = make(Expr::Kind::name, name);
        }
        for (;;) {
            if (is_op(".")) {
                ++p_;
                if (peek().kind != Token::Kind::name && peek().kind != Token::Kind::number)
                    throw ParseError{"expected an attribute name after '.'"};
                std::vector<ExprPtr> a;
                a.push_back(std::move(e));
                e = make(Expr::Kind::attr, peek().text, std::move(a));
                ++p_;
            } else if (is_op("[")) {
                ++p_;
                std::vector<ExprPtr> a;
                a.push_back(std::move(e));
                a.push_back(parse_or());
                expect_op("]");
                e = make(Expr::Kind::index, {}, std::move(a));
            } else {
                break;
            }
        }
        return e;
    }

    std::vector<Token> t_;
    size_t p_ = 0;
};

ExprPtr parse_expression(std::string_view body) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) throw ParseError{"empty expression"};
    return ExprParser(tokenize(body)).parse_all();
}

Value member(const Value& v, const std::string& key) {
    if (v.kind == Value::Kind::map) {
        auto it = v.m->find(key);
        return it == v.m->end() ? Value{} : Value::str(it->second);
    }
    if (v.kind == Value::Kind::devices) {
        auto it = v.dm->find(key);
        return it == v.dm->end() ? Value{} : Value::map(&it->second);
    }
    return Value{};
}

Value evaluate(const Expr& e, const TemplateContext& ctx) {
    switch (e.kind) {
        case Expr::Kind::literal: return e.literal;
        case Expr::Kind::name:
            if (e.text == "trigger") return Value::str(ctx.trigger);
            if (e.text == "path") return Value::str(ctx.path);
            if (e.text == "instance" || e.text == "container") return Value::map(&ctx.instance);
            if (e.text == "config") return Value::map(&ctx.config);
            if (e.text == "properties") return Value::map(&ctx.properties);
            if (e.text == "devices") return Value::devices(&ctx.devices);
            if (e.text == "creation_date" && ctx.creation_date) return Value::time(*ctx.creation_date);
            return Value{};
        case Expr::Kind::attr: return member(evaluate(*e.args[0], ctx), e.text);
        case Expr::Kind::index: {
            Value key = evaluate(*e.args[1], ctx);
            auto k = text_of(key);
            if (!k) return Value{};
            return member(evaluate(*e.args[0], ctx), *k);
        }
        case Expr::Kind::config_get: {
            Value key = evaluate(*e.args[0], ctx);
            auto k = text_of(key);
            auto it = k ? ctx.config.find(*k) : ctx.config.end();
            if (it == ctx.config.end()) return evaluate(*e.args[1], ctx);
            std::string v = it->second;
            while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();  // as LXD
            return Value::str(std::move(v));
        }
        case Expr::Kind::negate: return Value::boolean(!truthy(evaluate(*e.args[0], ctx)));
        case Expr::Kind::conj:
            return Value::boolean(truthy(evaluate(*e.args[0], ctx)) && truthy(evaluate(*e.args[1], ctx)));
        case Expr::Kind::disj:
            return Value::boolean(truthy(evaluate(*e.args[0], ctx)) || truthy(evaluate(*e.args[1], ctx)));
        case Expr::Kind::compare: {
            Value a = evaluate(*e.args[0], ctx);
            Value b = evaluate(*e.args[1], ctx);
            if (e.text == "==") return Value::boolean(equal(a, b));
            if (e.text == "!=") return Value::boolean(!equal(a, b));
            if (e.text == "in" || e.text == "not in") {
                bool found = false;
                if (b.kind == Value::Kind::str) {
                    auto t = text_of(a);
                    found = t && b.s.find(*t) != std::string::npos;
                } else if (b.kind == Value::Kind::map || b.kind == Value::Kind::devices) {
                    auto t = text_of(a);
                    found = t && member(b, *t).kind != Value::Kind::nil;
                }
                return Value::boolean(e.text == "in" ? found : !found);
            }
            int64_t x = as_integer(a), y = as_integer(b);
            if (e.text == "<") return Value::boolean(x < y);
            if (e.text == ">") return Value::boolean(x > y);
            if (e.text == "<=") return Value::boolean(x <= y);
            return Value::boolean(x >= y);
        }
        case Expr::Kind::filter: {
            Value v = evaluate(*e.args[0], ctx);
            if (e.text == "default") return truthy(v) ? v : evaluate(*e.args[1], ctx);
            if (e.text == "date") {
                // As pongo2: only a time has a date; anything else renders empty.
                if (v.kind != Value::Kind::time) return Value::str("");
                return Value::str(go_time_format(v.i, text_of(evaluate(*e.args[1], ctx)).value_or(std::string())));
            }
            std::string s = text_of(v).value_or(std::string());
            if (e.text == "lower")
                std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
            else if (e.text == "upper")
                std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
            else {
                auto b = s.find_first_not_of(" \t\r\n");
                auto en = s.find_last_not_of(" \t\r\n");
                s = b == std::string::npos ? std::string() : s.substr(b, en - b + 1);
            }
            return Value::str(std::move(s));
        }
    }
    return Value{};
}

// ---- template structure -----------------------------------------------------------------------

struct Segment {
    enum class Kind { text, output, tag } kind = Kind::text;
    std::string body{};
    int line = 1;
};

struct Node;
using Body = std::vector<Node>;

struct Node {
    enum class Kind { text, output, branch } kind = Kind::text;
    std::string text{};
    ExprPtr expr{};
    int line = 1;
    std::vector<std::pair<ExprPtr, Body>> branches{};  // if / elif
    std::optional<Body> otherwise{};                    // else
};

struct LocatedError {
    int line;
    std::string message;
};

// Split the text into literal text, {{ }} and {% %} (comments dropped), applying the '-' trims.
std::vector<Segment> segment(std::string_view s) {
    std::vector<Segment> out;
    size_t i = 0;
    int line = 1;
    bool trim_next = false;
    auto count_lines = [](std::string_view t) { return static_cast<int>(std::count(t.begin(), t.end(), '\n')); };
    auto add_text = [&](std::string_view t, int at) {
        std::string text(t);
        if (trim_next) {
            auto b = text.find_first_not_of(" \t\r\n");
            text = b == std::string::npos ? std::string() : text.substr(b);
            trim_next = false;
        }
        if (!text.empty()) out.push_back({Segment::Kind::text, std::move(text), at});
    };
    while (i < s.size()) {
        size_t open = std::string_view::npos;
        for (size_t j = s.find('{', i); j != std::string_view::npos && j + 1 < s.size(); j = s.find('{', j + 1)) {
            char n = s[j + 1];
            if (n == '{' || n == '%' || n == '#') {
                open = j;
                break;
            }
        }
        if (open == std::string_view::npos) {
            add_text(s.substr(i), line);
            break;
        }
        add_text(s.substr(i, open - i), line);
        line += count_lines(s.substr(i, open - i));
        int tag_line = line;
        char kind = s[open + 1];
        size_t body = open + 2;
        if (body < s.size() && s[body] == '-') {
            // {{- / {%- / {#-: strip the whitespace before the tag.
            if (!out.empty() && out.back().kind == Segment::Kind::text) {
                auto& t = out.back().body;
                auto e = t.find_last_not_of(" \t\r\n");
                t.erase(e == std::string::npos ? 0 : e + 1);
                if (t.empty()) out.pop_back();
            }
            ++body;
        }
        const char close_char = kind == '{' ? '}' : kind;
        // Find the closing pair, skipping over string literals ({{ "}}" }} is valid).
        size_t k = body;
        char quote = 0;
        size_t close = std::string_view::npos;
        while (k < s.size()) {
            char c = s[k];
            if (kind != '#' && quote) {
                if (c == '\\') {
                    k += 2;
                    continue;
                }
                if (c == quote) quote = 0;
            } else if (kind != '#' && (c == '"' || c == '\'')) {
                quote = c;
            } else if (c == close_char && k + 1 < s.size() && s[k + 1] == '}') {
                close = k;
                break;
            }
            ++k;
        }
        if (close == std::string_view::npos) {
            std::string what = kind == '{' ? "{{" : kind == '%' ? "{%" : "{#";
            throw LocatedError{tag_line, what + " is never closed"};
        }
        size_t body_end = close;
        if (body_end > body && s[body_end - 1] == '-') {
            --body_end;
            trim_next = true;
        }
        std::string inner(s.substr(body, body_end - body));
        if (kind == '{') out.push_back({Segment::Kind::output, std::move(inner), tag_line});
        if (kind == '%') out.push_back({Segment::Kind::tag, std::move(inner), tag_line});
        line += count_lines(s.substr(open, close + 2 - open));
        i = close + 2;
    }
    return out;
}

// The tag's name and the rest ("if", "x == 1").
std::pair<std::string, std::string> split_tag(const std::string& body) {
    auto b = body.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {"", ""};
    auto e = body.find_first_of(" \t\r\n", b);
    if (e == std::string::npos) return {body.substr(b), ""};
    return {body.substr(b, e - b), body.substr(e)};
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

ExprPtr expression_at(const std::string& body, int line) {
    try {
        return parse_expression(body);
    } catch (const ParseError& e) {
        throw LocatedError{line, e.message};
    }
}

class Parser {
public:
    explicit Parser(std::vector<Segment> segs) : s_(std::move(segs)) {}

    Body parse() {
        Body b = parse_body({});
        if (p_ < s_.size()) throw LocatedError{s_[p_].line, "unexpected {% " + split_tag(s_[p_].body).first + " %}"};
        return b;
    }

private:
    // Nodes until one of the stop tags (left unconsumed) or the end.
    Body parse_body(const std::vector<std::string>& stops) {
        Body out;
        while (p_ < s_.size()) {
            const Segment& sg = s_[p_];
            if (sg.kind == Segment::Kind::text) {
                out.push_back(Node{Node::Kind::text, sg.body, nullptr, sg.line});
                ++p_;
                continue;
            }
            if (sg.kind == Segment::Kind::output) {
                Node n{Node::Kind::output, {}, expression_at(sg.body, sg.line), sg.line};
                out.push_back(std::move(n));
                ++p_;
                continue;
            }
            auto [tag, rest] = split_tag(sg.body);
            if (std::find(stops.begin(), stops.end(), tag) != stops.end()) return out;
            if (tag == "if") {
                out.push_back(parse_if());
            } else if (tag == "autoescape") {
                if (blank(rest) || (split_tag(rest).first != "on" && split_tag(rest).first != "off") ||
                    !blank(split_tag(rest).second))
                    throw LocatedError{sg.line, "autoescape takes on or off"};
                int line = sg.line;
                ++p_;
                Body inner = parse_body({"endautoescape"});
                if (p_ >= s_.size()) throw LocatedError{line, "{% autoescape %} is never closed ({% endautoescape %})"};
                ++p_;
                for (auto& n : inner) out.push_back(std::move(n));
            } else if (tag.empty()) {
                throw LocatedError{sg.line, "empty tag {% %}"};
            } else if (tag == "elif" || tag == "else" || tag == "endif" || tag == "endautoescape") {
                throw LocatedError{sg.line, "{% " + tag + " %} without a matching opening tag"};
            } else {
                throw LocatedError{sg.line, "unknown tag '" + tag + "' (supported: if, elif, else, endif, autoescape)"};
            }
        }
        return out;
    }

    Node parse_if() {
        Node n;
        n.kind = Node::Kind::branch;
        n.line = s_[p_].line;
        std::string cond = split_tag(s_[p_].body).second;
        if (blank(cond)) throw LocatedError{n.line, "{% if %} needs a condition"};
        ExprPtr c = expression_at(cond, n.line);
        ++p_;
        for (;;) {
            Body body = parse_body({"elif", "else", "endif"});
            if (p_ >= s_.size()) throw LocatedError{n.line, "{% if %} is never closed ({% endif %})"};
            n.branches.emplace_back(std::move(c), std::move(body));
            const Segment& sg = s_[p_];
            auto [tag, rest] = split_tag(sg.body);
            ++p_;
            if (tag == "endif") {
                if (!blank(rest)) throw LocatedError{sg.line, "{% endif %} takes nothing"};
                return n;
            }
            if (tag == "else") {
                if (!blank(rest)) throw LocatedError{sg.line, "{% else %} takes nothing (did you mean elif?)"};
                n.otherwise = parse_body({"elif", "else", "endif"});
                if (p_ >= s_.size()) throw LocatedError{n.line, "{% if %} is never closed ({% endif %})"};
                auto [t2, r2] = split_tag(s_[p_].body);
                if (t2 != "endif") throw LocatedError{s_[p_].line, "{% " + t2 + " %} after {% else %}"};
                if (!blank(r2)) throw LocatedError{s_[p_].line, "{% endif %} takes nothing"};
                ++p_;
                return n;
            }
            // elif
            if (blank(rest)) throw LocatedError{sg.line, "{% elif %} needs a condition"};
            c = expression_at(rest, sg.line);
        }
    }

    std::vector<Segment> s_;
    size_t p_ = 0;
};

void render_body(const Body& body, const TemplateContext& ctx, std::string& out) {
    for (const auto& n : body) {
        switch (n.kind) {
            case Node::Kind::text: out += n.text; break;
            case Node::Kind::output: {
                auto t = text_of(evaluate(*n.expr, ctx));
                if (!t) throw LocatedError{n.line, "a map cannot be printed (name one of its keys)"};
                out += *t;
                break;
            }
            case Node::Kind::branch: {
                bool done = false;
                for (const auto& [cond, b] : n.branches) {
                    if (truthy(evaluate(*cond, ctx))) {
                        render_body(b, ctx, out);
                        done = true;
                        break;
                    }
                }
                if (!done && n.otherwise) render_body(*n.otherwise, ctx, out);
                break;
            }
        }
    }
}

}  // namespace

base::Result<std::string> render_template(std::string_view text, const TemplateContext& ctx, std::string_view name) {
    try {
        Body body = Parser(segment(text)).parse();
        std::string out;
        render_body(body, ctx, out);
        return out;
    } catch (const LocatedError& e) {
        return base::make_error(std::errc::invalid_argument,
                                "template " + std::string(name) + ":" + std::to_string(e.line) + ": " + e.message);
    }
}

}  // namespace lxm::core
