// admin recover: POST /internal/recover (lxmd re-inserts instances whose database rows
// are missing, from the backup.json beside each root volume). LXD's `lxd recover` asks
// questions about pools; lxm's pools are known to lxmd, so this only reports.
#include "lxm/cli/commands.hpp"

namespace lxm::cli {

namespace {

std::string names_line(const json& list) {
    std::string s;
    for (const auto& n : list) s += (s.empty() ? "" : ", ") + (n.is_string() ? n.get<std::string>() : n.dump());
    return s;
}

}  // namespace

void add_admin_commands(CLI::App& app, Context& ctx, Action& chosen) {
    auto* admin = app.add_subcommand("admin", "Administration of the local daemon");
    admin->require_subcommand(1);
    auto dry_run = std::make_shared<bool>(false);
    auto* recover = admin->add_subcommand(
        "recover", "Rebuild instances missing from the database from their backup files on disk");
    recover->add_flag("--dry-run", *dry_run, "Only report what would be recovered");
    on_run(recover, chosen, [&ctx, dry_run]() -> base::Result<int> {
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY(auto r, c->post(*dry_run ? "/internal/recover?dry_run=1" : "/internal/recover", json::object()));
        const json& m = r.metadata;
        json recovered = m.value("recovered", json::array()), present = m.value("present", json::array()),
             failed = m.value("failed", json::array());
        std::string out;
        if (recovered.empty()) {
            out += "No missing instances found.\n";
        } else {
            out += std::string(*dry_run ? "Would recover" : "Recovered") + " " + std::to_string(recovered.size()) +
                   " instance" + (recovered.size() == 1 ? "" : "s") + ": " + names_line(recovered) + "\n";
        }
        out += "Already in the database: " + std::to_string(present.size()) + "\n";
        print(ctx.out, out);
        for (const auto& f : failed)
            print(ctx.err, "Error: " + f.value("path", std::string()) + ": " + f.value("error", std::string()) + "\n");
        return failed.empty() ? 0 : 1;
    });
}

}  // namespace lxm::cli
