#include "lxm/cli/yaml.hpp"

#include <yaml-cpp/yaml.h>

namespace lxm::cli {

namespace {

json scalar(const YAML::Node& n) {
    const std::string& s = n.Scalar();
    if (n.Tag() == "!") return s;  // quoted: always a string
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    try {
        size_t used = 0;
        long long v = std::stoll(s, &used, 10);
        if (used == s.size()) return v;
    } catch (...) {
    }
    try {
        size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size() && s.find_first_of("0123456789") != std::string::npos) return d;
    } catch (...) {
    }
    return s;
}

json convert(const YAML::Node& n) {
    switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
        return nullptr;
    case YAML::NodeType::Scalar:
        return scalar(n);
    case YAML::NodeType::Sequence: {
        json a = json::array();
        for (const auto& item : n) a.push_back(convert(item));
        return a;
    }
    case YAML::NodeType::Map: {
        json o = json::object();
        for (const auto& kv : n) o[kv.first.as<std::string>()] = convert(kv.second);
        return o;
    }
    }
    return nullptr;
}

void stringify(json& v) {
    if (v.is_object() || v.is_array()) {
        for (auto& child : v) stringify(child);
    } else if (v.is_boolean()) {
        v = v.get<bool>() ? "true" : "false";
    } else if (v.is_number()) {
        v = v.dump();
    } else if (v.is_null()) {
        v = "";
    }
}

}  // namespace

base::Result<json> parse_yaml(std::string_view text) {
    try {
        return convert(YAML::Load(std::string(text)));
    } catch (const YAML::Exception& e) {
        return base::make_error(std::errc::invalid_argument, std::string("invalid YAML: ") + e.what());
    }
}

void stringify_config(json& writable) {
    for (const char* key : {"config", "devices"})
        if (writable.contains(key) && writable[key].is_object()) stringify(writable[key]);
}

}  // namespace lxm::cli
