// AppArmor: one profile per container, rendered in the parent from
// templates/apparmor/container.profile, compiled and loaded with
// apparmor_parser; the child only asks for the label at its exec
// (aa_change_onexec), so /sbin/init starts confined.
//
// Profile name: "lxm-<container name>" (apparmor_profile_name). Container
// names are DNS labels, so the name needs no quoting and is stable across
// restarts: loading replaces the previous version (-r).
#pragma once

#include <string>
#include <string_view>

#include "lxm/base/error.hpp"

namespace lxm::runtime {

struct ApparmorParams {
    std::string profile_name;    // apparmor_profile_name(container_name) unless overridden
    std::string container_name;
    bool privileged = false;     // no user namespace: mounts stay restricted
    bool nesting = false;        // the container runs containers itself
    bool userns = false;         // the parser knows the AppArmor 4 "userns," rule
    bool binfmt = false;         // the kernel namespaces binfmt_misc: let the container use it
    std::string raw;             // extra rules appended verbatim (raw.apparmor); trusted admin input
};

// "lxm-" + container name.
std::string apparmor_profile_name(std::string_view container_name);
// templates/apparmor/container.profile: the installed data dir first, then the source tree.
std::string default_apparmor_template_path();

// True when the kernel has AppArmor enabled (aa_is_enabled).
bool apparmor_enabled();
// Empty when lxm can confine containers with AppArmor; otherwise why not, for
// the instance state and logs, e.g. "AppArmor is not enabled in this kernel".
std::string apparmor_unavailable_reason();

// Render the template: {{name}}, {{container}}, {{raw}} values and
// {{#flag}}..{{/flag}} / {{^flag}}..{{/flag}} sections (flags: privileged,
// unprivileged, nesting, userns, binfmt, raw). Unknown placeholders, unbalanced
// sections and unsafe names are errors.
lxm::base::Result<std::string> render_apparmor_profile(std::string_view template_text,
                                                       const ApparmorParams& params);

// Run apparmor_parser on the profile (on its stdin). skip_kernel_load: only
// compile (-Q -K), which works without AppArmor in the kernel: the check for
// tests and for "does raw.apparmor parse". Otherwise this is load_apparmor_profile.
lxm::base::Result<void> compile_apparmor_profile(const std::string& profile_text, bool skip_kernel_load);

// Load or replace the profile in the kernel (apparmor_parser -r). With a
// cache_dir the compiled policy is cached there (-W -L dir); otherwise -K.
lxm::base::Result<void> load_apparmor_profile(const std::string& profile_text, const std::string& cache_dir = {});

// Remove a loaded profile by name. A profile that is not loaded is not an error.
lxm::base::Result<void> unload_apparmor_profile(const std::string& profile_name);

// Child side: confine the next execve() with this profile (aa_change_onexec).
lxm::base::Result<void> apparmor_change_onexec(const std::string& profile_name);

// Where apparmor_parser is looked for: $LXM_APPARMOR_PARSER, else "apparmor_parser" in
// PATH plus /sbin and /usr/sbin. Empty when not found.
std::string apparmor_parser_path();

}  // namespace lxm::runtime
