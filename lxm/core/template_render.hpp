// The template language of LXD image file templates: the subset of pongo2
// (Django-like) that LXD and distrobuilder images use. Pure logic: text in,
// text out.
//
//   {{ expr }}                   output (strings as they are, no escaping)
//   {% if expr %} ... {% elif expr %} ... {% else %} ... {% endif %}
//   {% autoescape off %} ... {% endautoescape %}   accepted, no effect (nothing is escaped)
//   {# comment #}
//   {{- / -}} / {%- / -%}        strip the whitespace (newlines too) before / after the tag
//
// Expressions: names with attribute access (container.name, properties.x,
// config["user.x"]), string literals ("x" or 'x', with \" \' \\ \n \t),
// integers, true/false, calls of config_get(key, default), comparisons
// == != < > <= >=, `in` (substring or map key), not/!, and/&&, or/||,
// parentheses, and the filters default:"x", lower, upper, trim, date:"<Go layout>"
// (of a time: creation_date, the name snapshots.pattern gets; prints as Go's time.String()).
// As in pongo2: an unknown name or attribute is empty (renders as "", false
// in a condition). Anything else (an unknown tag, filter, function or
// character, an unclosed block) is an error naming the template and line:
// "hosts.tpl:3: unknown tag 'for'".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "lxm/base/error.hpp"

namespace lxm::core {

using StringMap = std::map<std::string, std::string>;

// What a template sees (the names LXD gives it).
struct TemplateContext {
    std::string trigger{};                           // "create", "copy", "start", "rename"
    std::string path{};                              // the target path in the instance
    StringMap instance{};                            // name, type, architecture, privileged, ephemeral (also "container")
    StringMap config{};                              // the instance's expanded config (also config_get)
    std::map<std::string, StringMap> devices{};      // expanded devices
    StringMap properties{};                          // the template's own properties from metadata.yaml
    std::optional<int64_t> creation_date{};          // unix ns: the name creation_date (snapshots.pattern)
};

// Render template text; name is the template's file name used in errors.
base::Result<std::string> render_template(std::string_view text, const TemplateContext& ctx, std::string_view name);

}  // namespace lxm::core
