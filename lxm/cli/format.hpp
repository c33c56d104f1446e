// Pure formatting and parsing for the CLI: LXD-style tables, CSV, a YAML emitter,
// list columns, key=value arguments and IEC sizes. No I/O; unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lxm/base/error.hpp"

namespace lxm::cli {

using json = nlohmann::json;
using Row = std::vector<std::string>;

// A table as `lxc list` draws it: +---+ borders, centred headers, left-aligned cells,
// a separator after every row; a cell with '\n' spans several lines.
std::string render_table(const Row& header, const std::vector<Row>& rows);
// RFC 4180 CSV (quotes when needed), no header line (as `lxc list -f csv`).
std::string render_csv(const std::vector<Row>& rows);
// YAML in the style of go-yaml (what `lxc config show` prints): block mappings with keys
// sorted, sequences at the key's indentation, {} / [] for empty containers, strings quoted
// only when plain style would read back as something else.
std::string to_yaml(const json& v);

// What a `list` command prints for format: json/yaml render raw (the API's answer),
// csv/table the rows (sorted) under header.
std::string render_listing(const json& raw, const std::string& format, const Row& header, std::vector<Row> rows);

// "key=value" → {key, value}; the value may be empty and may contain '='.
base::Result<std::pair<std::string, std::string>> parse_key_value(std::string_view arg);

// List columns: shorthand letters as `lxc list -c` ("ns46tS" or "n,s,4"):
//   n NAME, s STATE, 4 IPV4, 6 IPV6, t TYPE, S SNAPSHOTS, p PID, P PROFILES, a ARCHITECTURE,
//   c CREATED AT, l LAST USED AT, d DESCRIPTION, m MEMORY USAGE, N PROCESSES, u CPU USAGE.
struct Column {
    char key = 'n';
    std::string header;
};
base::Result<std::vector<Column>> parse_columns(std::string_view spec);
// The cell of one column for one instance as GET /1.0/instances?recursion=2 returns it.
std::string column_value(const Column& c, const json& instance);

// 1536 → "1.50KiB", 512 → "512B" (as LXD's GetByteSizeStringIEC with 2 decimals).
std::string format_size(int64_t bytes);
// Nanoseconds of CPU time → "12s", "1m2s" (rounded to seconds as lxc info prints it).
std::string format_cpu_seconds(int64_t ns);

}  // namespace lxm::cli
