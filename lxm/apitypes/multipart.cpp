#include "lxm/apitypes/multipart.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <random>

namespace lxm::apitypes {

namespace {

std::string lower(std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
    return std::string(s.substr(b, e - b));
}

// "form-data; name=\"x\"; filename=\"y\"" -> {name: x, filename: y}
std::map<std::string, std::string> header_params(std::string_view v) {
    std::map<std::string, std::string> out;
    size_t pos = v.find(';');
    while (pos != std::string_view::npos) {
        size_t next = pos + 1;
        // Find the end of this parameter, skipping ';' inside quotes.
        bool quoted = false;
        size_t end = next;
        while (end < v.size() && (quoted || v[end] != ';')) {
            if (v[end] == '"') quoted = !quoted;
            else if (v[end] == '\\' && quoted && end + 1 < v.size()) ++end;
            ++end;
        }
        std::string p = trim(v.substr(next, end - next));
        auto eq = p.find('=');
        if (eq != std::string::npos) {
            std::string k = lower(trim(p.substr(0, eq)));
            std::string val = trim(p.substr(eq + 1));
            if (val.size() >= 2 && val.front() == '"' && val.back() == '"') {
                std::string un;
                for (size_t i = 1; i + 1 < val.size(); ++i) {
                    if (val[i] == '\\' && i + 2 < val.size()) ++i;
                    un += val[i];
                }
                val = un;
            }
            out[k] = val;
        }
        pos = end < v.size() ? end : std::string_view::npos;
    }
    return out;
}

base::Unexpected bad(std::string why) { return base::make_error(std::errc::bad_message, "multipart body: " + why); }

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
    auto semi = content_type.find(';');
    if (lower(trim(content_type.substr(0, semi))) != "multipart/form-data") return std::nullopt;
    auto params = header_params(content_type);
    auto it = params.find("boundary");
    if (it == params.end() || it->second.empty() || it->second.size() > 200) return std::nullopt;
    return it->second;
}

MultipartReader::MultipartReader(std::string boundary, Handler h) : delim_("\r\n--" + boundary), h_(std::move(h)) {
    buf_ = "\r\n";  // the first delimiter has no CRLF before it
}

base::Result<void> MultipartReader::feed(std::string_view chunk) {
    if (state_ == State::done) return {};
    buf_.append(chunk);
    return run();
}

base::Result<void> MultipartReader::finish() {
    LXM_TRY_VOID(run());
    if (state_ != State::done) return bad("truncated (no closing boundary)");
    return {};
}

base::Result<void> MultipartReader::run() {
    for (;;) {
        switch (state_) {
        case State::done: return {};
        case State::preamble: {
            auto p = buf_.find(delim_);
            if (p == std::string::npos) {
                if (buf_.size() > delim_.size()) buf_.erase(0, buf_.size() - (delim_.size() - 1));
                return {};
            }
            buf_.erase(0, p + delim_.size());
            state_ = State::after_delim;
            break;
        }
        case State::after_delim: {
            if (buf_.size() < 2) return {};
            if (buf_.compare(0, 2, "--") == 0) {
                state_ = State::done;
                buf_.clear();
                return {};
            }
            // Transport padding (spaces/tabs) may follow a delimiter.
            size_t i = 0;
            while (i < buf_.size() && (buf_[i] == ' ' || buf_[i] == '\t')) ++i;
            if (buf_.size() - i < 2) return {};
            if (buf_.compare(i, 2, "\r\n") != 0) return bad("garbage after a boundary");
            buf_.erase(0, i + 2);
            state_ = State::headers;
            break;
        }
        case State::headers: {
            size_t end;
            size_t skip;
            if (buf_.starts_with("\r\n")) {
                end = 0;
                skip = 2;
            } else {
                end = buf_.find("\r\n\r\n");
                if (end == std::string::npos) {
                    if (buf_.size() > 16384) return bad("part headers too long");
                    return {};
                }
                skip = 4;
            }
            MultipartPart part;
            size_t pos = 0;
            std::string_view hs(buf_.data(), end);
            while (pos < hs.size()) {
                size_t nl = hs.find("\r\n", pos);
                if (nl == std::string_view::npos) nl = hs.size();
                std::string_view line = hs.substr(pos, nl - pos);
                pos = nl + 2;
                auto colon = line.find(':');
                if (colon == std::string_view::npos) return bad("malformed part header");
                part.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
            }
            if (auto cd = part.headers.find("content-disposition"); cd != part.headers.end()) {
                auto params = header_params(cd->second);
                part.name = params["name"];
                part.filename = params["filename"];
            }
            buf_.erase(0, end + skip);
            ++parts_;
            if (h_.begin) LXM_TRY_VOID(h_.begin(part));
            state_ = State::body;
            break;
        }
        case State::body: {
            auto p = buf_.find(delim_);
            if (p == std::string::npos) {
                if (buf_.size() >= delim_.size()) {
                    size_t emit = buf_.size() - (delim_.size() - 1);
                    if (h_.data) LXM_TRY_VOID(h_.data(std::string_view(buf_.data(), emit)));
                    buf_.erase(0, emit);
                }
                return {};
            }
            if (p > 0 && h_.data) LXM_TRY_VOID(h_.data(std::string_view(buf_.data(), p)));
            if (h_.end) LXM_TRY_VOID(h_.end());
            buf_.erase(0, p + delim_.size());
            state_ = State::after_delim;
            break;
        }
        }
    }
}

std::string make_boundary() {
    std::random_device rd;
    static const char* hex = "0123456789abcdef";
    std::string b;
    for (int i = 0; i < 32; ++i) b += hex[rd() & 15];
    return b;
}

std::string multipart_part_header(const std::string& boundary, const std::string& name, const std::string& filename,
                                  bool first) {
    std::string s = first ? "" : "\r\n";
    s += "--" + boundary + "\r\n";
    s += "Content-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename + "\"\r\n";
    s += "Content-Type: application/octet-stream\r\n\r\n";
    return s;
}

std::string multipart_trailer(const std::string& boundary) { return "\r\n--" + boundary + "--\r\n"; }

}  // namespace lxm::apitypes
