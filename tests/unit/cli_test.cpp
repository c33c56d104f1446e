// Pure parts of the lxm CLI: tables, CSV, YAML, columns, key=value, sizes.
#include <gtest/gtest.h>

#include "lxm/cli/context.hpp"
#include "lxm/cli/format.hpp"
#include "lxm/cli/yaml.hpp"

namespace lxm::cli {
namespace {

TEST(CliTable, DrawsLikeLxcList) {
    std::string t = render_table({"NAME", "STATE", "IPV4"}, {{"c1", "RUNNING", "10.0.3.5 (eth0)"}, {"web", "STOPPED", ""}});
    EXPECT_EQ(t,
              "+------+---------+-----------------+\n"
              "| NAME |  STATE  |      IPV4       |\n"
              "+------+---------+-----------------+\n"
              "| c1   | RUNNING | 10.0.3.5 (eth0) |\n"
              "+------+---------+-----------------+\n"
              "| web  | STOPPED |                 |\n"
              "+------+---------+-----------------+\n");
}

TEST(CliTable, MultiLineCellsSpanRowsAndUtf8CountsCodePoints) {
    std::string t = render_table({"N", "IP"}, {{"é", "a\nbbb"}});
    EXPECT_EQ(t,
              "+---+-----+\n"
              "| N | IP  |\n"
              "+---+-----+\n"
              "| é | a   |\n"
              "|   | bbb |\n"
              "+---+-----+\n");
}

TEST(CliTable, EmptyTableHasHeaderOnly) {
    EXPECT_EQ(render_table({"NAME"}, {}), "+------+\n| NAME |\n+------+\n");
}

TEST(CliCsv, QuotesOnlyWhenNeeded) {
    EXPECT_EQ(render_csv({{"c1", "RUNNING", "a,b"}, {"x\"y", "l1\nl2", " pad"}}),
              "c1,RUNNING,\"a,b\"\n\"x\"\"y\",\"l1\nl2\",\" pad\"\n");
}

TEST(CliYaml, BlockStyleLikeGoYaml) {
    json j = {{"architecture", "x86_64"},
              {"config", {{"limits.cpu", "2"}, {"user.note", "a: b"}}},
              {"devices", json::object()},
              {"ephemeral", false},
              {"profiles", {"default", "web"}},
              {"description", ""}};
    EXPECT_EQ(to_yaml(j),
              "architecture: x86_64\n"
              "config:\n"
              "  limits.cpu: \"2\"\n"
              "  user.note: \"a: b\"\n"
              "description: \"\"\n"
              "devices: {}\n"
              "ephemeral: false\n"
              "profiles:\n"
              "- default\n"
              "- web\n");
}

TEST(CliYaml, QuotesAmbiguousScalarsAndNestsSequencesOfMaps) {
    json j = json::array({{{"name", "c1"}, {"status", "true"}, {"n", 3}}, {{"name", "-x"}, {"empty", json::array()}}});
    EXPECT_EQ(to_yaml(j),
              "- \"n\": 3\n"  // YAML 1.1 reads a plain n as false
              "  name: c1\n"
              "  status: \"true\"\n"
              "- empty: []\n"
              "  name: \"-x\"\n");
    EXPECT_EQ(to_yaml(json("multi\nline")), "\"multi\\nline\"\n");
    EXPECT_EQ(to_yaml(json("1.5")), "\"1.5\"\n");
    EXPECT_EQ(to_yaml(json("debian/12")), "debian/12\n");
    EXPECT_EQ(to_yaml(json::array()), "[]\n");
}

TEST(CliYaml, ParseRoundTripsWhatShowPrints) {
    json j = {{"architecture", "x86_64"},
              {"config", {{"limits.cpu", "2"}, {"user.flag", "true"}, {"user.note", "a: b"}}},
              {"devices", {{"root", {{"path", "/"}, {"type", "disk"}}}}},
              {"ephemeral", false},
              {"profiles", {"default"}},
              {"description", ""}};
    auto back = parse_yaml(to_yaml(j));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, j);
}

TEST(CliYaml, ParseTypesPlainScalarsAndStringifiesConfig) {
    auto y = parse_yaml("config:\n  limits.cpu: 2\n  user.x: yes please\nephemeral: true\nprofiles:\n- default\n");
    ASSERT_TRUE(y);
    EXPECT_EQ((*y)["ephemeral"], true);
    EXPECT_EQ((*y)["config"]["limits.cpu"], 2);
    stringify_config(*y);
    EXPECT_EQ((*y)["config"]["limits.cpu"], "2");
    EXPECT_EQ((*y)["config"]["user.x"], "yes please");
    EXPECT_EQ((*y)["ephemeral"], true);  // only config/devices are stringified
    auto js = parse_yaml(R"({"config": {"a": "1"}})");  // JSON is YAML
    ASSERT_TRUE(js);
    EXPECT_EQ((*js)["config"]["a"], "1");
    EXPECT_FALSE(parse_yaml("a: [unclosed"));
}

TEST(CliArgs, KeyValue) {
    auto kv = parse_key_value("limits.memory=1GiB");
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->first, "limits.memory");
    EXPECT_EQ(kv->second, "1GiB");
    auto eq = parse_key_value("user.x=a=b");
    ASSERT_TRUE(eq);
    EXPECT_EQ(eq->second, "a=b");
    auto empty = parse_key_value("user.x=");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->second, "");
    EXPECT_FALSE(parse_key_value("novalue"));
    EXPECT_FALSE(parse_key_value("=v"));
}

TEST(CliColumns, ShorthandAndCommaForms) {
    auto d = parse_columns("ns46tS");
    ASSERT_TRUE(d);
    std::vector<std::string> headers;
    for (auto& c : *d) headers.push_back(c.header);
    EXPECT_EQ(headers, (std::vector<std::string>{"NAME", "STATE", "IPV4", "IPV6", "TYPE", "SNAPSHOTS"}));
    auto comma = parse_columns("n,p");
    ASSERT_TRUE(comma);
    ASSERT_EQ(comma->size(), 2u);
    EXPECT_EQ((*comma)[1].header, "PID");
    EXPECT_FALSE(parse_columns("nZ"));
    EXPECT_FALSE(parse_columns("name,state"));
    EXPECT_FALSE(parse_columns(""));
}

TEST(CliColumns, ValuesFromAFullInstance) {
    json inst = json::parse(R"({
        "name": "c1", "status": "Running", "type": "container", "ephemeral": true,
        "created_at": "2026-11-23T02:51:36.123Z", "profiles": ["default"],
        "snapshots": [{"name": "s0"}, {"name": "s1"}],
        "state": {"pid": 4242, "processes": 7, "memory": {"usage": 1572864}, "cpu": {"usage": 3500000000},
                  "network": {
                    "lo": {"addresses": [{"family": "inet", "address": "127.0.0.1", "scope": "local"}]},
                    "eth0": {"addresses": [
                        {"family": "inet", "address": "10.0.3.5", "scope": "global"},
                        {"family": "inet6", "address": "fd42::5", "scope": "global"},
                        {"family": "inet6", "address": "fe80::1", "scope": "link"}]}}}
    })");
    auto cell = [&](char k) { return column_value(Column{k, ""}, inst); };
    EXPECT_EQ(cell('n'), "c1");
    EXPECT_EQ(cell('s'), "RUNNING");
    EXPECT_EQ(cell('4'), "10.0.3.5 (eth0)");
    EXPECT_EQ(cell('6'), "fd42::5 (eth0)");
    EXPECT_EQ(cell('t'), "CONTAINER (EPHEMERAL)");
    EXPECT_EQ(cell('S'), "2");
    EXPECT_EQ(cell('p'), "4242");
    EXPECT_EQ(cell('N'), "7");
    EXPECT_EQ(cell('m'), "1.50MiB");
    EXPECT_EQ(cell('u'), "3s");
    EXPECT_EQ(cell('c'), "2026/11/23 02:51 UTC");
    EXPECT_EQ(cell('P'), "default");

    inst["status"] = "Stopped";
    EXPECT_EQ(cell('p'), "");  // no pid for a stopped instance
    EXPECT_EQ(cell('m'), "");
    json bare = {{"name", "x"}, {"status", "Stopped"}};
    EXPECT_EQ(column_value(Column{'4', ""}, bare), "");
    EXPECT_EQ(column_value(Column{'S', ""}, bare), "0");
    EXPECT_EQ(column_value(Column{'t', ""}, bare), "CONTAINER");
}

TEST(CliFormat, Sizes) {
    EXPECT_EQ(format_size(0), "0B");
    EXPECT_EQ(format_size(1023), "1023B");
    EXPECT_EQ(format_size(1024), "1.00KiB");
    EXPECT_EQ(format_size(1536), "1.50KiB");
    EXPECT_EQ(format_size(5LL * 1024 * 1024 * 1024), "5.00GiB");
    EXPECT_EQ(format_cpu_seconds(2999999999), "2s");
}

TEST(CliContext, UrlsAndSocketPath) {
    EXPECT_EQ(instance_url("c1"), "/1.0/instances/c1");
    EXPECT_EQ(instance_url("c1/snap 0"), "/1.0/instances/c1/snapshots/snap%200");
    EXPECT_EQ(url_escape("/etc/a b"), "%2Fetc%2Fa%20b");
    ::setenv("LXM_DIR", "/tmp/x", 1);
    EXPECT_EQ(socket_path(), "/tmp/x/unix.socket");
    ::unsetenv("LXM_DIR");
    EXPECT_EQ(socket_path(), "/var/lib/lxm/unix.socket");
    EXPECT_EQ(error_text(user_error("boom").error()), "boom");
}

}  // namespace
}  // namespace lxm::cli
