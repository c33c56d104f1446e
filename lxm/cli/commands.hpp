// The verbs of `lxm`, grouped by file. Each add_* registers CLI11 subcommands whose
// callback stores the work in `chosen`; app.cpp runs it after parsing succeeded.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lxm/cli/context.hpp"

namespace lxm::cli {

using Action = std::function<base::Result<int>()>;

void add_instance_commands(CLI::App& app, Context& ctx, Action& chosen);  // instances.cpp
void add_list_commands(CLI::App& app, Context& ctx, Action& chosen);      // list.cpp: list, info
void add_exec_commands(CLI::App& app, Context& ctx, Action& chosen);      // exec.cpp: exec, console
void add_config_commands(CLI::App& app, Context& ctx, Action& chosen);    // config.cpp: config, profile
// config_device.cpp: config device ..., profile device ... (after add_config_commands)
void add_config_device_commands(CLI::App& app, Context& ctx, Action& chosen);
// config_metadata.cpp: config metadata show/edit, config template ... (after add_config_commands)
void add_config_metadata_commands(CLI::App& app, Context& ctx, Action& chosen);
// config.cpp: GET url with its ETag, apply fn to the writable part of the instance (or profile),
// PUT it back with If-Match and wait.
base::Result<void> update_writable(Context& ctx, const std::string& url, bool profile,
                                   const std::function<base::Result<void>(json&)>& fn);
void add_file_commands(CLI::App& app, Context& ctx, Action& chosen);      // file.cpp: file push/pull
void add_image_commands(CLI::App& app, Context& ctx, Action& chosen);     // image.cpp: image list, alias
// remote.cpp: remote add/list/remove/switch/get-default/rename, config trust (after add_config_commands)
void add_remote_commands(CLI::App& app, Context& ctx, Action& chosen);
// A CLI11 transform for positional [REMOTE:]NAME arguments: strips the remote and selects it (Context::take_remote).
CLI::Validator remote_arg(Context& ctx);
void add_admin_commands(CLI::App& app, Context& ctx, Action& chosen);     // admin.cpp: admin recover
void add_network_commands(CLI::App& app, Context& ctx, Action& chosen);   // network.cpp: network ...
void add_storage_commands(CLI::App& app, Context& ctx, Action& chosen);   // storage.cpp: storage list/create/info/show/delete
void add_backup_commands(CLI::App& app, Context& ctx, Action& chosen);    // backup.cpp: export, import
// migrate.cpp: copy/move between two servers (the copy and move verbs hand over when the
// source and target name different remotes).
// What a copy changes of the source's writable fields (lxc copy/move -c, -d, -p, --no-profiles,
// -s, -e), as lxc applies them to the request it sends.
struct CopyOverrides {
    std::vector<std::string> config;    // -c key=value
    std::vector<std::string> devices;   // -d device,key=value (a device of the profiles is copied in)
    std::vector<std::string> profiles;  // -p (none given: the source's)
    bool no_profiles = false;
    std::string storage;                // -s: the root disk's pool
    std::optional<bool> ephemeral;      // -e; nullopt: the source's (move)
};
// The new instance's config (the source's without volatile keys, but the base image), devices,
// profiles, ephemeral and description, with the overrides applied. dst: the target server (its
// profiles hold the devices that -d may name).
base::Result<json> copy_fields(Context& dst, const json& inst, const CopyOverrides& o);
struct RemoteCopyOptions {
    bool instance_only = false;
    bool move = false;     // delete the source once the target confirmed
    bool live = false;     // CRIU (refused with the reason where it cannot work)
    bool refresh = false;
    std::string mode = "pull";  // pull | push | relay (LXD's transfer modes)
    CopyOverrides over;
};
base::Result<bool> is_cross_remote(Context& ctx, const std::string& a, const std::string& b);
base::Result<int> remote_copy(Context& ctx, const std::string& source, const std::string& target,
                              const RemoteCopyOptions& o);

// Register `fn` as the action of subcommand `sub` (options are read when it runs).
inline void on_run(CLI::App* sub, Action& chosen, Action fn) {
    sub->callback([&chosen, fn = std::move(fn)] { chosen = fn; });
}

// Shared helpers (instances.cpp).
// GET /1.0/instances/<name> metadata.
base::Result<json> get_instance(Context& ctx, const std::string& name);
// PUT .../state {action, timeout, force} and wait.
base::Result<void> change_state(Context& ctx, const std::string& name, const std::string& action, int timeout,
                                bool force);
// Parse ["k=v", ...] into an object of strings.
base::Result<json> key_values(const std::vector<std::string>& args);
// The editable text of a resource: $VISUAL/$EDITOR on a temp file, or stdin when it is not a terminal.
base::Result<std::string> edit_text(const std::string& initial);

}  // namespace lxm::cli
