#include "lxm/cli/list_fetch.hpp"

#include <boost/json.hpp>

#include "lxm/cli/context.hpp"

namespace lxm::cli {

namespace bj = boost::json;
using nlohmann::json;

namespace {

json convert(const bj::value& v) {
    switch (v.kind()) {
        case bj::kind::null: return nullptr;
        case bj::kind::bool_: return v.get_bool();
        case bj::kind::int64: return v.get_int64();
        case bj::kind::uint64: return v.get_uint64();
        case bj::kind::double_: return v.get_double();
        case bj::kind::string: return std::string(v.get_string());
        case bj::kind::array: {
            json a = json::array();
            auto& out = a.get_ref<json::array_t&>();
            out.reserve(v.get_array().size());
            for (const auto& e : v.get_array()) out.push_back(convert(e));
            return a;
        }
        case bj::kind::object: {
            json o = json::object();
            for (const auto& [k, e] : v.get_object()) o.emplace(std::string(k), convert(e));
            return o;
        }
    }
    return nullptr;
}

}  // namespace

base::Result<json> parse_instance_list(std::string_view body, const ListFields& fields) {
    bj::monotonic_resource arena;
    boost::system::error_code ec;
    bj::value doc = bj::parse(bj::string_view(body.data(), body.size()), ec, &arena);
    if (ec || !doc.is_object()) return user_error("unexpected answer to GET /1.0/instances (not a JSON object)");
    const auto& env = doc.get_object();
    auto type = env.if_contains("type");
    if (type && type->is_string() && type->get_string() == "error") {
        auto err = env.if_contains("error");
        return user_error(err && err->is_string() ? std::string(err->get_string()) : "error answer to GET /1.0/instances");
    }
    auto md = env.if_contains("metadata");
    if (!md || !md->is_array()) return user_error("unexpected answer to GET /1.0/instances");
    json list = json::array();
    auto& out = list.get_ref<json::array_t&>();
    out.reserve(md->get_array().size());
    for (const auto& item : md->get_array()) {
        if (!item.is_object()) {
            out.push_back(convert(item));
            continue;
        }
        if (fields.all) {
            out.push_back(convert(item));
            continue;
        }
        json inst = json::object();
        for (const auto& [k, v] : item.get_object()) {
            std::string key(k);
            if (!fields.keys.count(key)) continue;
            if (key == "snapshots" && !fields.snapshot_bodies && v.is_array()) {
                inst.emplace(key, json::array_t(v.get_array().size(), json(nullptr)));
            } else if (key == "state" && !fields.state_keys.empty() && v.is_object()) {
                json st = json::object();
                for (const auto& [sk, sv] : v.get_object())
                    if (fields.state_keys.count(std::string(sk))) st.emplace(std::string(sk), convert(sv));
                inst.emplace(key, std::move(st));
            } else {
                inst.emplace(std::move(key), convert(v));
            }
        }
        out.push_back(std::move(inst));
    }
    return list;
}

}  // namespace lxm::cli
