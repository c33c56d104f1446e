// AppArmor profile rendering (pure text) and compilation with apparmor_parser
// --skip-kernel-load (no root, no AppArmor in the kernel needed).
#include <gtest/gtest.h>

#include "lxm/base/file.hpp"
#include "lxm/runtime/apparmor.hpp"
#include "tests/support/test_env.hpp"

using namespace lxm::runtime;

namespace {

std::string container_template() {
    auto t = lxm::base::read_file(lxm::test::source_dir() + "/templates/apparmor/container.profile");
    EXPECT_TRUE(t) << t.error().message();
    return t ? *t : std::string();
}

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

ApparmorParams params(std::string name) {
    ApparmorParams p;
    p.container_name = std::move(name);
    return p;
}

}  // namespace

TEST(ApparmorRender, ValuesAndSections) {
    const std::string tmpl =
        "profile \"{{name}}\" # {{container}}\n"
        "{{#nesting}}\n"
        "  nest,\n"
        "{{/nesting}}\n"
        "{{^nesting}}\n"
        "  no-nest,\n"
        "{{/nesting}}\n"
        "  {{#privileged}}priv{{/privileged}}{{#unprivileged}}unpriv{{/unprivileged}},\n"
        "{{#raw}}\n"
        "{{raw}}\n"
        "{{/raw}}\n"
        "end\n";
    auto p = params("c1");
    auto r = render_apparmor_profile(tmpl, p);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, "profile \"lxm-c1\" # c1\n  no-nest,\n  unpriv,\nend\n");

    p.nesting = true;
    p.privileged = true;
    p.raw = "  capability sys_admin,";
    p.profile_name = "custom-name";
    r = render_apparmor_profile(tmpl, p);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, "profile \"custom-name\" # c1\n  nest,\n  priv,\n  capability sys_admin,\nend\n");
}

TEST(ApparmorRender, NestedSectionsAndNoTrailingNewline) {
    auto p = params("c2");
    p.nesting = true;
    auto r = render_apparmor_profile("{{#nesting}}a{{#privileged}}b{{/privileged}}c{{/nesting}}", p);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, "ac");
}

TEST(ApparmorRender, BadTemplatesAndNamesAreErrors) {
    auto p = params("c1");
    auto err = [&](std::string_view t) {
        auto r = render_apparmor_profile(t, p);
        return r ? std::string("(rendered)") : r.error().message();
    };
    EXPECT_TRUE(has(err("{{nmae}}"), "unknown placeholder 'nmae'"));
    EXPECT_TRUE(has(err("{{#nestng}}x{{/nestng}}"), "unknown flag 'nestng'"));
    EXPECT_TRUE(has(err("{{#nesting}}\nx\n"), "'nesting' is not closed"));
    EXPECT_TRUE(has(err("x\n{{/nesting}}\n"), "unexpected close of 'nesting' (line 2)"));
    EXPECT_TRUE(has(err("{{#nesting}}{{#raw}}{{/nesting}}{{/raw}}"), "unexpected close"));
    EXPECT_TRUE(has(err("profile {{name\n"), "unterminated"));

    for (const char* bad : {"", "a b", "a\"b", "a\nb", "../x", "-x", "a/b"}) {
        auto r = render_apparmor_profile("{{name}}", params(bad));
        EXPECT_FALSE(r) << "container name '" << bad << "' must be rejected";
    }
    auto q = params("ok");
    q.profile_name = "evil\" {";
    EXPECT_FALSE(render_apparmor_profile("{{name}}", q));
}

TEST(ApparmorRender, ContainerTemplateHasTheExpectedRules) {
    std::string tmpl = container_template();
    ASSERT_FALSE(tmpl.empty());
    EXPECT_TRUE(default_apparmor_template_path().ends_with("/templates/apparmor/container.profile"));
    EXPECT_TRUE(lxm::base::path_exists(default_apparmor_template_path()));

    auto unpriv = render_apparmor_profile(tmpl, params("web1"));
    ASSERT_TRUE(unpriv) << unpriv.error().message();
    EXPECT_TRUE(has(*unpriv, "profile \"lxm-web1\" flags=(attach_disconnected,mediate_deleted) {"));
    EXPECT_TRUE(has(*unpriv, "container \"web1\""));
    EXPECT_TRUE(has(*unpriv, "deny /proc/sysrq-trigger rwklx,"));
    EXPECT_TRUE(has(*unpriv, "deny /proc/sys/kernel/[^dhms]*{,/**} wklx,"));
    EXPECT_TRUE(has(*unpriv, "signal peer=@{profile_name},"));
    EXPECT_TRUE(has(*unpriv, "mount fstype=cgroup2"));
    EXPECT_TRUE(has(*unpriv, "  pivot_root,\n  mount,\n"));
    EXPECT_TRUE(has(*unpriv, "deny /proc/sys/fs/binfmt_misc/{,**} rwklx,"));
    EXPECT_FALSE(has(*unpriv, "userns,"));
    EXPECT_FALSE(has(*unpriv, "change_profile"));
    EXPECT_FALSE(has(*unpriv, "{{"));

    auto pr = params("db");
    pr.privileged = true;
    auto priv = render_apparmor_profile(tmpl, pr);
    ASSERT_TRUE(priv) << priv.error().message();
    EXPECT_FALSE(has(*priv, "pivot_root,"));
    EXPECT_FALSE(has(*priv, "\n  mount,\n"));
    EXPECT_TRUE(has(*priv, "mount options=(rw, bind) @{lxm_bindable},"));

    pr.nesting = true;
    pr.userns = true;
    pr.binfmt = true;
    pr.raw = "  # raw rule\n  deny /srv/** w,";
    auto nest = render_apparmor_profile(tmpl, pr);
    ASSERT_TRUE(nest) << nest.error().message();
    EXPECT_TRUE(has(*nest, "pivot_root,"));
    EXPECT_TRUE(has(*nest, "change_profile -> \"lxm-db\","));
    EXPECT_TRUE(has(*nest, "  userns,\n"));
    EXPECT_TRUE(has(*nest, "deny /srv/** w,"));
    EXPECT_FALSE(has(*nest, "deny /proc/sys/fs/binfmt_misc/{,**} rwklx,"));
}

// The rendered profiles are valid AppArmor policy: apparmor_parser compiles
// them without loading (works with AppArmor absent from the kernel).
TEST(ApparmorCompile, RenderedProfilesCompile) {
    if (apparmor_parser_path().empty()) GTEST_SKIP() << "apparmor_parser is not installed";
    std::string tmpl = container_template();
    for (int variant = 0; variant < 3; ++variant) {
        auto p = params("compile" + std::to_string(variant));
        p.privileged = variant == 1;
        p.nesting = variant == 2;
        p.raw = variant == 2 ? "  deny /srv/** w," : "";
        auto text = render_apparmor_profile(tmpl, p);
        ASSERT_TRUE(text) << text.error().message();
        auto r = compile_apparmor_profile(*text, true);
        EXPECT_TRUE(r) << "variant " << variant << ": " << r.error().message();
    }
}

TEST(ApparmorCompile, ParserErrorsComeBackWithItsMessage) {
    if (apparmor_parser_path().empty()) GTEST_SKIP() << "apparmor_parser is not installed";
    auto p = params("broken");
    p.raw = "  this is not a rule,";
    auto text = render_apparmor_profile(container_template(), p);
    ASSERT_TRUE(text) << text.error().message();
    auto r = compile_apparmor_profile(*text, true);
    ASSERT_FALSE(r);
    EXPECT_TRUE(has(r.error().message(), "apparmor_parser")) << r.error().message();
    EXPECT_TRUE(has(r.error().message(), "syntax error")) << r.error().message();
}

TEST(ApparmorHost, UnavailableReasonMatchesTheKernel) {
    std::string reason = apparmor_unavailable_reason();
    if (apparmor_enabled()) {
        if (apparmor_parser_path().empty())
            EXPECT_EQ(reason, "apparmor_parser is not installed");
        else
            EXPECT_EQ(reason, "");
        return;
    }
    EXPECT_FALSE(reason.empty());
    if (!lxm::base::path_exists("/sys/module/apparmor")) {
        EXPECT_EQ(reason, "AppArmor is not enabled in this kernel");
        // Nothing can be loaded, so unloading is a no-op rather than an error.
        EXPECT_TRUE(unload_apparmor_profile("lxm-lxmt-none"));
        // And the child-side call fails with a clear error.
        auto r = apparmor_change_onexec("lxm-lxmt-none");
        ASSERT_FALSE(r);
        EXPECT_TRUE(has(r.error().message(), "aa_change_onexec lxm-lxmt-none"));
    }
}
