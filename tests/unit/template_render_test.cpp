// The pongo2 subset of LXD image templates (lxm/core/template_render.hpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "lxm/core/go_time_format.hpp"
#include "lxm/core/template_render.hpp"

namespace lxm::core {
namespace {

TemplateContext ctx() {
    TemplateContext c;
    c.trigger = "create";
    c.path = "/etc/hostname";
    c.instance = {{"name", "web1"}, {"type", "container"}, {"architecture", "x86_64"},
                  {"privileged", "false"}, {"ephemeral", "false"}};
    c.config = {{"user.meta-data", "foo: bar\n"}, {"user.network_mode", "link-local"}, {"limits.cpu", "2"}};
    c.devices = {{"eth0", {{"type", "nic"}, {"network", "lxmbr0"}}}};
    c.properties = {{"default", "#cloud-config\n{}"}, {"mode", "dhcp"}};
    return c;
}

std::string render(std::string_view t) {
    auto r = render_template(t, ctx(), "t.tpl");
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
    return r.value_or("<error>");
}

std::string error_of(std::string_view t) {
    auto r = render_template(t, ctx(), "t.tpl");
    EXPECT_FALSE(r.has_value()) << "rendered: " << r.value_or("");
    return r ? std::string() : r.error().context;
}

TEST(TemplateRender, PlainTextIsCopied) {
    EXPECT_EQ(render(""), "");
    EXPECT_EQ(render("127.0.0.1 localhost\n::1 ip6-localhost\n"), "127.0.0.1 localhost\n::1 ip6-localhost\n");
    EXPECT_EQ(render("a { b } {c} }} %}"), "a { b } {c} }} %}");
}

TEST(TemplateRender, Variables) {
    EXPECT_EQ(render("{{ container.name }}\n"), "web1\n");
    EXPECT_EQ(render("{{instance.name}}/{{ instance.type }}/{{ container.architecture }}"), "web1/container/x86_64");
    EXPECT_EQ(render("{{ trigger }} {{ path }}"), "create /etc/hostname");
    EXPECT_EQ(render("{{ properties.mode }}"), "dhcp");
    EXPECT_EQ(render("{{ config[\"limits.cpu\"] }}"), "2");
    EXPECT_EQ(render("{{ devices.eth0.network }}"), "lxmbr0");
    EXPECT_EQ(render("{{ devices[\"eth0\"][\"type\"] }}"), "nic");
    // As pongo2: unknown names and attributes are empty.
    EXPECT_EQ(render("[{{ properties.missing }}][{{ nothing }}][{{ nothing.deeper }}][{{ container.name.x }}]"),
              "[][][][]");
    EXPECT_EQ(render("{{ \"lit\" }}{{ 'x' }}{{ 42 }}{{ true }}"), "litx42True");
}

TEST(TemplateRender, ConfigGet) {
    // LXD trims trailing newlines of the value; the default is used when the key is absent.
    EXPECT_EQ(render("{{ config_get(\"user.meta-data\", \"\") }}|"), "foo: bar|");
    EXPECT_EQ(render("{{ config_get(\"user.absent\", \"dflt\") }}"), "dflt");
    EXPECT_EQ(render("{{ config_get(\"user.absent\", properties.default) }}"), "#cloud-config\n{}");
    EXPECT_EQ(render("instance-id: {{ container.name }}\nlocal-hostname: {{ container.name }}\n"
                     "{{ config_get(\"user.meta-data\", \"\") }}\n"),
              "instance-id: web1\nlocal-hostname: web1\nfoo: bar\n");
}

TEST(TemplateRender, Conditions) {
    EXPECT_EQ(render("{% if instance.type == \"virtual-machine\" %}enp5s0{% else %}eth0{% endif %}"), "eth0");
    EXPECT_EQ(render("{% if config_get(\"user.network_mode\", \"\") == \"link-local\" %}LL{% endif %}"), "LL");
    EXPECT_EQ(render("{% if trigger == \"copy\" %}c{% elif trigger == \"create\" %}n{% else %}o{% endif %}"), "n");
    EXPECT_EQ(render("{% if trigger != \"create\" %}a{% elif trigger == \"start\" %}b{% else %}c{% endif %}"), "c");
    EXPECT_EQ(render("{% if not properties.missing %}none{% endif %}"), "none");
    EXPECT_EQ(render("{% if properties.mode and container.name %}both{% endif %}"), "both");
    EXPECT_EQ(render("{% if properties.missing or container.name == 'web1' %}one{% endif %}"), "one");
    EXPECT_EQ(render("{% if !(properties.missing || false) && true %}x{% endif %}"), "x");
    EXPECT_EQ(render("{% if not properties.mode == \"dhcp\" %}a{% else %}b{% endif %}"), "b");
    // Truthiness: empty string, 0 and false are false; a non-empty map is true.
    EXPECT_EQ(render("{% if \"\" %}a{% endif %}{% if 0 %}b{% endif %}{% if false %}c{% endif %}{% if config %}d{% endif %}"),
              "d");
    // pongo2 semantics: an undefined value is not equal to "".
    EXPECT_EQ(render("{% if properties.missing == \"\" %}eq{% else %}ne{% endif %}"), "ne");
    EXPECT_EQ(render("{% if \"web\" in container.name %}in{% endif %}{% if \"eth0\" in devices %}dev{% endif %}"
                     "{% if \"eth1\" not in devices %}!dev{% endif %}"),
              "indev!dev");
    EXPECT_EQ(render("{% if config_get(\"limits.cpu\", \"0\") >= 2 %}big{% endif %}{% if 3 < 2 %}no{% endif %}"), "big");
    // Nested.
    EXPECT_EQ(render("{% if true %}a{% if false %}b{% else %}c{% endif %}d{% endif %}"), "acd");
}

TEST(TemplateRender, WhitespaceControl) {
    std::string t =
        "{%- if config_get(\"cloud-init.network-config\", \"\") == \"\" -%}\n"
        "{%- if config_get(\"user.network-config\", \"\") == \"\" -%}\n"
        "version: 1\n"
        "{%- else -%}\n"
        "{{- config_get(\"user.network-config\", \"\") -}}\n"
        "{%- endif -%}\n"
        "{%- else -%}\n"
        "{{- config_get(\"cloud-init.network-config\", \"\") -}}\n"
        "{%- endif %}\n";
    EXPECT_EQ(render(t), "version: 1\n");
    EXPECT_EQ(render("a  \n  {{- \"b\" -}}  \n  c"), "abc");
    EXPECT_EQ(render("a\n{# a comment #}\nb"), "a\n\nb");
    EXPECT_EQ(render("a\n{#- trimmed -#}\nb"), "ab");
    // No automatic trimming without '-' (pongo2's default).
    EXPECT_EQ(render("{% if true %}\nx\n{% endif %}\n"), "\nx\n\n");
    EXPECT_EQ(render("{% autoescape off %}<{{ \"&\" }}>{% endautoescape %}"), "<&>");
}

TEST(TemplateRender, Filters) {
    EXPECT_EQ(render("{{ properties.missing|default:\"x\" }}{{ container.name|upper }}{{ \"AbC\"|lower }}"),
              "xWEB1abc");
    EXPECT_EQ(render("[{{ \"  t \"|trim }}]"), "[t]");
}

TEST(TemplateRender, StringsWithDelimiters) {
    EXPECT_EQ(render("{{ \"}}\" }}{{ 'a\\'b' }}{{ \"q\\\"\\n\" }}"), "}}a'bq\"\n");
}

TEST(TemplateRender, ErrorsNameFileAndLine) {
    EXPECT_EQ(error_of("line1\n{% for x in config %}{% endfor %}"),
              "template t.tpl:2: unknown tag 'for' (supported: if, elif, else, endif, autoescape)");
    EXPECT_EQ(error_of("a\nb\n{{ x|frobnicate }}"), "template t.tpl:3: unknown filter 'frobnicate' (supported: default, lower, upper, trim, date)");
    EXPECT_EQ(error_of("{% if true %}\nunclosed"), "template t.tpl:1: {% if %} is never closed ({% endif %})");
    EXPECT_EQ(error_of("x\n\n{{ container.name"), "template t.tpl:3: {{ is never closed");
    EXPECT_EQ(error_of("{% endif %}"), "template t.tpl:1: {% endif %} without a matching opening tag");
    EXPECT_EQ(error_of("{% else %}"), "template t.tpl:1: {% else %} without a matching opening tag");
    EXPECT_EQ(error_of("{{ now() }}"), "template t.tpl:1: unknown function 'now' (supported: config_get)");
    EXPECT_EQ(error_of("{{ config_get(\"a\") }}"), "template t.tpl:1: config_get takes 2 arguments (key, default)");
    EXPECT_EQ(error_of("{{ 1 + 2 }}"), "template t.tpl:1: unexpected character '+'");
    EXPECT_EQ(error_of("{{ }}"), "template t.tpl:1: empty expression");
    EXPECT_EQ(error_of("{{ \"open }}"), "template t.tpl:1: {{ is never closed");
    EXPECT_EQ(error_of("{% if %}x{% endif %}"), "template t.tpl:1: {% if %} needs a condition");
    EXPECT_EQ(error_of("{% if a b %}x{% endif %}"), "template t.tpl:1: unexpected 'b'");
    EXPECT_EQ(error_of("{% if a %}{% else %}{% elif b %}{% endif %}"), "template t.tpl:1: {% elif %} after {% else %}");
    EXPECT_EQ(error_of("{{ config }}"), "template t.tpl:1: a map cannot be printed (name one of its keys)");
    // A syntax error in a branch that is not taken is still an error.
    EXPECT_EQ(error_of("{% if false %}\n{{ x|nope }}\n{% endif %}"),
              "template t.tpl:2: unknown filter 'nope' (supported: default, lower, upper, trim, date)");
}

}  // namespace
}  // namespace lxm::core

// Go's reference layouts (time package constants) on one instant:
// Tue 2026-03-03 09:05:07.012300 in a zone at +01:00 named CET, day 62 of the year.
TEST(GoTimeFormat, ReferenceLayouts) {
    lxm::core::GoTime t;
    t.year = 2026, t.month = 3, t.day = 3, t.hour = 9, t.minute = 5, t.second = 7, t.nanos = 12300000;
    t.weekday = 2, t.yearday = 62, t.gmtoff = 3600, t.zone = "CET";
    using lxm::core::go_time_format;
    EXPECT_EQ(go_time_format(t, "2006-01-02_15-04-05"), "2026-03-03_09-05-07");
    EXPECT_EQ(go_time_format(t, "Mon Jan _2 15:04:05 2006"), "Tue Mar  3 09:05:07 2026");                // ANSIC
    EXPECT_EQ(go_time_format(t, "2006-01-02T15:04:05Z07:00"), "2026-03-03T09:05:07+01:00");            // RFC3339
    EXPECT_EQ(go_time_format(t, "2006-01-02T15:04:05.999999999Z07:00"), "2026-03-03T09:05:07.0123+01:00");
    EXPECT_EQ(go_time_format(t, "02 Jan 06 15:04 -0700"), "03 Mar 26 09:05 +0100");                    // RFC822Z
    EXPECT_EQ(go_time_format(t, "Monday, 02-Jan-06 15:04:05 MST"), "Tuesday, 03-Mar-26 09:05:07 CET");  // RFC850
    EXPECT_EQ(go_time_format(t, "3:04PM"), "9:05AM");                                                  // Kitchen
    EXPECT_EQ(go_time_format(t, "Jan _2 15:04:05.000"), "Mar  3 09:05:07.012");                        // StampMilli
    EXPECT_EQ(go_time_format(t, "January 2, 2006 002 __2 1/2 pm"), "March 3, 2026 062  62 3/3 am");
    t.gmtoff = 0, t.zone = "UTC", t.hour = 21, t.nanos = 0;
    EXPECT_EQ(go_time_format(t, "2006-01-02T15:04:05.999Z07:00 03PM -07:00"), "2026-03-03T21:05:07Z 09PM +00:00");
    EXPECT_EQ(go_time_format(t, "snap-x"), "snap-x");  // no chunks: as it is
}

TEST(TemplateRender, DateFilterOfCreationDate) {
    lxm::core::TemplateContext ctx;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    ctx.creation_date = int64_t{1795421347} * 1000000000 + 5;
    auto r = lxm::core::render_template("{{ creation_date|date:'2006-01-02_15-04-05' }}", ctx, "p");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, "2026-11-23_08-09-07");
    r = lxm::core::render_template("{{ creation_date }}", ctx, "p");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "2026-11-23 08:09:07.000000005 +0000 UTC");  // Go's time.String()
    r = lxm::core::render_template("[{{ trigger|date:'2006' }}]", ctx, "p");  // not a time: empty
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "[]");
    EXPECT_FALSE(lxm::core::render_template("{{ creation_date|date }}", ctx, "p"));
    ::unsetenv("TZ");
    ::tzset();
}
