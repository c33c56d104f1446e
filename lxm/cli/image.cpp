// image list and image alias list (GET /1.0/images?recursion=1, /1.0/images/aliases?recursion=1).
#include "lxm/cli/commands.hpp"
#include "lxm/cli/format.hpp"

namespace lxm::cli {

namespace {

std::string upload_date(const json& t) {
    if (!t.is_string() || t.get<std::string>().size() < 16) return "";
    std::string s = t.get<std::string>();
    std::string d = s.substr(0, 10);
    std::replace(d.begin(), d.end(), '-', '/');
    return d + " " + s.substr(11, 5) + " UTC";
}

}  // namespace

void add_image_commands(CLI::App& app, Context& ctx, Action& chosen) {
    auto* image = app.add_subcommand("image", "Inspect the image store");
    image->require_subcommand(1);
    auto format = std::make_shared<std::string>("table");
    auto* list = image->add_subcommand("list", "List images");
    list->alias("ls");
    list->add_option("-f,--format", *format, "table, csv, json, yaml")
        ->check(CLI::IsMember({"table", "csv", "json", "yaml"}));
    on_run(list, chosen, [&ctx, format]() -> base::Result<int> {
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY(auto images, c->get("/1.0/images?recursion=1"));
        if (*format == "json") return print(ctx.out, images.dump() + "\n"), 0;
        if (*format == "yaml") return print(ctx.out, to_yaml(images)), 0;
        std::vector<Row> rows;
        for (auto& img : images) {
            std::string aliases;
            for (auto& a : img.value("aliases", json::array()))
                aliases += (aliases.empty() ? "" : "\n") + a.value("name", "");
            std::string desc = img.contains("properties") && img["properties"].is_object()
                                   ? img["properties"].value("description", "")
                                   : "";
            std::string type = img.value("type", "container");
            for (auto& ch : type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            rows.push_back({aliases, img.value("fingerprint", "").substr(0, 12), img.value("public", false) ? "yes" : "no",
                            desc, img.value("architecture", ""), type, format_size(img.value("size", int64_t{0})),
                            upload_date(img.value("uploaded_at", json()))});
        }
        std::sort(rows.begin(), rows.end());
        if (*format == "csv") return print(ctx.out, render_csv(rows)), 0;
        print(ctx.out, render_table({"ALIAS", "FINGERPRINT", "PUBLIC", "DESCRIPTION", "ARCHITECTURE", "TYPE", "SIZE",
                                     "UPLOAD DATE"},
                                    rows));
        return 0;
    });

    auto* alias = image->add_subcommand("alias", "Image aliases");
    alias->require_subcommand(1);
    auto* alist = alias->add_subcommand("list", "List image aliases");
    alist->alias("ls");
    on_run(alist, chosen, [&ctx]() -> base::Result<int> {
        LXM_TRY(auto* c, ctx.client());
        LXM_TRY(auto aliases, c->get("/1.0/images/aliases?recursion=1"));
        std::vector<Row> rows;
        for (auto& a : aliases) {
            std::string type = a.value("type", "container");
            for (auto& ch : type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            rows.push_back({a.value("name", ""), a.value("target", "").substr(0, 12), type, a.value("description", "")});
        }
        std::sort(rows.begin(), rows.end());
        print(ctx.out, render_table({"ALIAS", "FINGERPRINT", "TYPE", "DESCRIPTION"}, rows));
        return 0;
    });
}

}  // namespace lxm::cli
