// The instances of GET /1.0/instances?recursion=2, parsed fast: a list of thousands is parsed
// with Boost.JSON into an arena (several times faster than building nlohmann nodes) and only
// the fields the caller asks for become nlohmann values for the formatting code.
#pragma once

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"

namespace lxm::cli {

// Which parts of each instance become JSON (the rest is skipped). all: every key.
struct ListFields {
    bool all = true;
    std::set<std::string> keys;        // top-level keys kept (when !all)
    std::set<std::string> state_keys;  // keys kept inside "state" (empty: all of them)
    bool snapshot_bodies = true;       // false: "snapshots" becomes an array of nulls (a count)
};

// The metadata of a sync envelope body (an array of instances), each reduced to `fields`.
// Errors: a body that is not a sync envelope holding an array.
base::Result<nlohmann::json> parse_instance_list(std::string_view body, const ListFields& fields);

}  // namespace lxm::cli
