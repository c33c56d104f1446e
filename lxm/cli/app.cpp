#include "lxm/cli/app.hpp"

#include <signal.h>

#include "lxm/cli/commands.hpp"

namespace lxm::cli {

namespace {

void add_version(CLI::App& app, Context& ctx, Action& chosen) {
    auto* sub = app.add_subcommand("version", "Show the client and server versions");
    on_run(sub, chosen, [&ctx]() -> base::Result<int> {
        print(ctx.out, std::string("Client version: ") + LXM_VERSION + "\n");
        std::string server = "unreachable";
        if (auto c = ctx.client(); c) {
            if (auto info = (*c)->server_info(); info && info->environment)
                server = info->environment->server_version.empty() ? "unknown" : info->environment->server_version;
        }
        print(ctx.out, "Server version: " + server + "\n");
        return 0;
    });
}

}  // namespace

int run(int argc, char** argv) {
    // A closed stdout (lxm list | head) must not kill us with SIGPIPE mid-request.
    ::signal(SIGPIPE, SIG_IGN);
    Context ctx(socket_path());
    Action chosen;
    CLI::App app{"lxm: manage system containers through lxmd", "lxm"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string(LXM_VERSION));
    add_instance_commands(app, ctx, chosen);
    add_list_commands(app, ctx, chosen);
    add_exec_commands(app, ctx, chosen);
    add_config_commands(app, ctx, chosen);
    add_config_device_commands(app, ctx, chosen);
    add_config_metadata_commands(app, ctx, chosen);
    add_file_commands(app, ctx, chosen);
    add_image_commands(app, ctx, chosen);
    add_admin_commands(app, ctx, chosen);
    add_network_commands(app, ctx, chosen);
    add_storage_commands(app, ctx, chosen);
    add_backup_commands(app, ctx, chosen);
    add_remote_commands(app, ctx, chosen);
    add_version(app, ctx, chosen);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "Error: %s\n", e.what());
        std::fprintf(stderr, "Run 'lxm --help' (or 'lxm <verb> --help') for usage.\n");
        return 1;
    }
    if (!chosen) return 1;
    auto r = chosen();
    std::fflush(ctx.out);
    if (!r) {
        std::fprintf(stderr, "Error: %s\n", error_text(r.error()).c_str());
        return 1;
    }
    return *r;
}

}  // namespace lxm::cli
