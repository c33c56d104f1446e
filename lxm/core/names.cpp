#include "lxm/core/names.hpp"

#include <cctype>
#include <string>

#include "lxm/apitypes/http_error.hpp"

namespace lxm::core {

namespace {
// The name as it may appear in a message: bounded, control characters escaped.
std::string shown(std::string_view name) {
    std::string out;
    for (char c : name.substr(0, 64)) {
        if (std::isprint(static_cast<unsigned char>(c))) out += c;
        else out += '?';
    }
    if (name.size() > 64) out += "...";
    return out;
}
}  // namespace

base::Result<void> validate_instance_name(std::string_view name) {
    if (name.empty()) return apitypes::http_error(400, "Invalid instance name: the name is empty");
    if (name.size() > 63)
        return apitypes::http_error(400, "Invalid instance name \"" + shown(name) + "\": longer than 63 characters (" +
                                             std::to_string(name.size()) + ")");
    for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) && static_cast<unsigned char>(c) < 128) && c != '-')
            return apitypes::http_error(400, "Invalid instance name \"" + shown(name) +
                                                 "\": only letters, digits and '-' are allowed");
    }
    if (std::isdigit(static_cast<unsigned char>(name.front())) || name.front() == '-')
        return apitypes::http_error(400, "Invalid instance name \"" + shown(name) +
                                             "\": must not start with a digit or '-'");
    if (name.back() == '-')
        return apitypes::http_error(400, "Invalid instance name \"" + shown(name) + "\": must not end with '-'");
    return {};
}

base::Result<void> validate_object_name(std::string_view kind, std::string_view name) {
    std::string k(kind);
    if (name.empty()) return apitypes::http_error(400, "Invalid " + k + " name: the name is empty");
    if (name.size() > 63)
        return apitypes::http_error(400, "Invalid " + k + " name \"" + shown(name) + "\": longer than 63 characters");
    if (name == "." || name == "..")
        return apitypes::http_error(400, "Invalid " + k + " name \"" + shown(name) + "\"");
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (c == '/' || u < 0x21 || u == 0x7f)
            return apitypes::http_error(400, "Invalid " + k + " name \"" + shown(name) +
                                                 "\": no '/', spaces or control characters allowed");
    }
    return {};
}

}  // namespace lxm::core
