#include "store/image_metadata.hpp"

#include <yaml-cpp/yaml.h>

namespace lxm::store {

using base::Result;

namespace {

Result<std::map<std::string, std::string>> string_map(const YAML::Node& n, const std::string& what) {
    std::map<std::string, std::string> out;
    if (!n || n.IsNull()) return out;
    if (!n.IsMap()) return base::make_error(std::errc::invalid_argument, "metadata.yaml: " + what + " is not a map");
    for (const auto& kv : n) {
        if (!kv.second.IsScalar() && !kv.second.IsNull())
            return base::make_error(std::errc::invalid_argument,
                                    "metadata.yaml: " + what + "." + kv.first.as<std::string>() + " is not a scalar");
        out[kv.first.as<std::string>()] = kv.second.IsNull() ? "" : kv.second.as<std::string>();
    }
    return out;
}

}  // namespace

Result<ImageMetadata> parse_image_metadata(std::string_view text) {
    try {
        YAML::Node root = YAML::Load(std::string(text));
        if (!root.IsMap()) return base::make_error(std::errc::invalid_argument, "metadata.yaml is not a map");
        ImageMetadata m;
        if (auto a = root["architecture"]; a && a.IsScalar()) m.architecture = a.as<std::string>();
        if (m.architecture.empty())
            return base::make_error(std::errc::invalid_argument, "metadata.yaml: missing architecture");
        if (auto c = root["creation_date"]; c && c.IsScalar()) m.creation_date = c.as<int64_t>();
        if (m.creation_date == 0) return base::make_error(std::errc::invalid_argument, "metadata.yaml: missing creation date");
        if (auto e = root["expiry_date"]; e && e.IsScalar()) m.expiry_date = e.as<int64_t>();
        LXM_TRY(m.properties, string_map(root["properties"], "properties"));
        if (auto t = root["templates"]; t && !t.IsNull()) {
            if (!t.IsMap()) return base::make_error(std::errc::invalid_argument, "metadata.yaml: templates is not a map");
            for (const auto& kv : t) {
                std::string path = kv.first.as<std::string>();
                const YAML::Node& v = kv.second;
                if (!v.IsMap())
                    return base::make_error(std::errc::invalid_argument, "metadata.yaml: template " + path + " is not a map");
                ImageTemplate tpl;
                if (auto w = v["when"]; w) {
                    if (w.IsSequence()) {
                        for (const auto& x : w) tpl.when.push_back(x.as<std::string>());
                    } else if (w.IsScalar()) {
                        tpl.when.push_back(w.as<std::string>());
                    }
                }
                if (auto c = v["create_only"]; c && c.IsScalar()) tpl.create_only = c.as<bool>();
                if (auto f = v["template"]; f && f.IsScalar()) tpl.template_file = f.as<std::string>();
                LXM_TRY(tpl.properties, string_map(v["properties"], "templates." + path + ".properties"));
                m.templates[path] = std::move(tpl);
            }
        }
        return m;
    } catch (const YAML::Exception& e) {
        return base::make_error(std::errc::invalid_argument, std::string("metadata.yaml: ") + e.what());
    }
}

std::string render_image_metadata(const ImageMetadata& m) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "architecture" << YAML::Value << m.architecture;
    out << YAML::Key << "creation_date" << YAML::Value << m.creation_date;
    if (m.expiry_date) out << YAML::Key << "expiry_date" << YAML::Value << m.expiry_date;
    out << YAML::Key << "properties" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : m.properties) out << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
    out << YAML::EndMap;
    if (!m.templates.empty()) {
        out << YAML::Key << "templates" << YAML::Value << YAML::BeginMap;
        for (const auto& [path, t] : m.templates) {
            out << YAML::Key << path << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "when" << YAML::Value << YAML::BeginSeq;
            for (const auto& w : t.when) out << w;
            out << YAML::EndSeq;
            if (t.create_only) out << YAML::Key << "create_only" << YAML::Value << true;
            out << YAML::Key << "template" << YAML::Value << t.template_file;
            if (!t.properties.empty()) {
                out << YAML::Key << "properties" << YAML::Value << YAML::BeginMap;
                for (const auto& [k, v] : t.properties) out << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
                out << YAML::EndMap;
            }
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace lxm::store
