#include "store/images.hpp"

#include "store/errors.hpp"

namespace lxm::store {

namespace {

using detail::Param;

constexpr detail::ConfigTable kProperties{"images_properties", "image_id"};
constexpr std::string_view kColumns =
    "i.id, i.fingerprint, i.filename, i.size, i.public, i.auto_update, i.cached, i.architecture, i.type, "
    "i.created_at, i.uploaded_at, i.last_used_at, i.expires_at, s.server, s.protocol, s.certificate, s.alias";
constexpr std::string_view kFrom = " FROM images i LEFT JOIN images_source s ON s.image_id = i.id ";

std::string label(std::string_view fingerprint) { return "image \"" + std::string(fingerprint) + "\""; }

ImageRecord read_row(const Statement& st) {
    ImageRecord r;
    r.id = st.column_int64(0);
    r.fingerprint = st.column_text(1);
    r.filename = st.column_text(2);
    r.size = st.column_int64(3);
    r.is_public = st.column_bool(4);
    r.auto_update = st.column_bool(5);
    r.cached = st.column_bool(6);
    r.architecture = st.column_text(7);
    r.type = st.column_text(8);
    r.created_at = st.column_int64(9);
    r.uploaded_at = st.column_int64(10);
    r.last_used_at = st.column_int64(11);
    r.expires_at = st.column_optional_int64(12);
    if (!st.column_is_null(13))
        r.source = ImageSource{st.column_text(13), st.column_text(14), st.column_text(15), st.column_text(16)};
    return r;
}

Result<void> write_source(Transaction& tx, int64_t id, const std::optional<ImageSource>& src) {
    LXM_TRY_VOID(detail::exec_changes(tx, "DELETE FROM images_source WHERE image_id = ?1", {id}));
    if (!src) return {};
    LXM_TRY_VOID(detail::exec_changes(
        tx, "INSERT INTO images_source (image_id, server, protocol, certificate, alias) VALUES (?1, ?2, ?3, ?4, ?5)",
        {id, src->server, src->protocol, src->certificate, src->alias}));
    return {};
}

// Rows of `where` (with params), with their properties: 2 queries.
Result<std::vector<ImageRecord>> select_images(Transaction& tx, std::string_view where, const std::vector<Param>& params) {
    LXM_TRY(auto out, detail::select_rows<ImageRecord>(
                          tx, "SELECT " + std::string(kColumns) + std::string(kFrom) + std::string(where) +
                                  " ORDER BY i.fingerprint",
                          params, read_row));
    if (out.empty()) return out;
    LXM_TRY(auto props, detail::load_config(tx, kProperties, "SELECT i.id FROM images i " + std::string(where), params));
    for (auto& r : out) r.properties = std::move(props[r.id]);
    return out;
}

Result<int64_t> image_id(Transaction& tx, std::string_view fingerprint) {
    LXM_TRY(auto st, tx.prepare("SELECT id FROM images WHERE fingerprint = ?1"));
    LXM_TRY_VOID(st.bind_all(fingerprint));
    LXM_TRY(bool row, st.step());
    if (!row) return not_found(label(fingerprint));
    return st.column_int64(0);
}

std::string alias_label(std::string_view name) { return "image alias \"" + std::string(name) + "\""; }

}  // namespace

Result<int64_t> create_image(Transaction& tx, const ImageRecord& rec) {
    std::string what = label(rec.fingerprint);
    {
        LXM_TRY(auto st, tx.prepare("INSERT INTO images (fingerprint, filename, size, public, auto_update, cached, "
                                    "architecture, type, created_at, uploaded_at, last_used_at, expires_at) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
        LXM_TRY_VOID(st.bind_all(rec.fingerprint, rec.filename, rec.size, rec.is_public, rec.auto_update, rec.cached,
                                 rec.architecture, rec.type, rec.created_at, rec.uploaded_at, rec.last_used_at,
                                 rec.expires_at));
        if (auto r = st.exec(); !r) return std::unexpected(on_write_error(std::move(r).error(), what, "create " + what));
    }
    int64_t id = tx.last_insert_rowid();
    LXM_TRY_VOID(detail::replace_config(tx, kProperties, id, rec.properties));
    LXM_TRY_VOID(write_source(tx, id, rec.source));
    return id;
}

Result<ImageRecord> get_image(Transaction& tx, std::string_view fingerprint) {
    LXM_TRY(auto rows, select_images(tx, "WHERE i.fingerprint = ?1", {std::string(fingerprint)}));
    if (rows.empty()) return not_found(label(fingerprint));
    return std::move(rows.front());
}

Result<ImageRecord> find_image(Transaction& tx, std::string_view prefix) {
    if (prefix.empty()) return not_found(label(prefix));
    // substr comparison, not LIKE: a prefix may not contain wildcards.
    LXM_TRY(auto rows, select_images(tx, "WHERE substr(i.fingerprint, 1, length(?1)) = ?1", {std::string(prefix)}));
    if (rows.empty()) return not_found(label(prefix));
    if (rows.size() > 1)
        return base::make_error(std::errc::invalid_argument, "image fingerprint prefix \"" + std::string(prefix) +
                                                                 "\" matches " + std::to_string(rows.size()) + " images");
    return std::move(rows.front());
}

Result<std::vector<std::string>> list_image_fingerprints(Transaction& tx) {
    return detail::select_texts(tx, "SELECT fingerprint FROM images ORDER BY fingerprint", {});
}

Result<std::vector<ImageRecord>> list_images(Transaction& tx) { return select_images(tx, "", {}); }

Result<void> update_image(Transaction& tx, const ImageRecord& rec) {
    LXM_TRY(int64_t id, image_id(tx, rec.fingerprint));
    {
        LXM_TRY(auto st, tx.prepare("UPDATE images SET filename = ?2, size = ?3, public = ?4, auto_update = ?5, "
                                    "cached = ?6, architecture = ?7, type = ?8, created_at = ?9, uploaded_at = ?10, "
                                    "last_used_at = ?11, expires_at = ?12 WHERE id = ?1"));
        LXM_TRY_VOID(st.bind_all(id, rec.filename, rec.size, rec.is_public, rec.auto_update, rec.cached,
                                 rec.architecture, rec.type, rec.created_at, rec.uploaded_at, rec.last_used_at,
                                 rec.expires_at));
        LXM_TRY_VOID(st.exec());
    }
    LXM_TRY_VOID(detail::replace_config(tx, kProperties, id, rec.properties));
    return write_source(tx, id, rec.source);
}

Result<void> set_image_last_used(Transaction& tx, std::string_view fingerprint, int64_t last_used_at) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "UPDATE images SET last_used_at = ?2 WHERE fingerprint = ?1",
                                            {std::string(fingerprint), last_used_at}));
    if (n == 0) return not_found(label(fingerprint));
    return {};
}

Result<void> delete_image(Transaction& tx, std::string_view fingerprint) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM images WHERE fingerprint = ?1", {std::string(fingerprint)}));
    if (n == 0) return not_found(label(fingerprint));
    return {};
}

Result<void> create_image_alias(Transaction& tx, const ImageAlias& alias) {
    LXM_TRY(int64_t id, image_id(tx, alias.fingerprint));
    auto r = detail::exec_changes(tx, "INSERT INTO images_aliases (name, image_id, description) VALUES (?1, ?2, ?3)",
                                  {alias.name, id, alias.description});
    if (!r) return std::unexpected(on_write_error(std::move(r).error(), alias_label(alias.name), "create alias"));
    return {};
}

Result<ImageAlias> get_image_alias(Transaction& tx, std::string_view name) {
    LXM_TRY(auto st, tx.prepare("SELECT a.name, i.fingerprint, a.description FROM images_aliases a "
                                "JOIN images i ON i.id = a.image_id WHERE a.name = ?1"));
    LXM_TRY_VOID(st.bind_all(name));
    LXM_TRY(bool row, st.step());
    if (!row) return not_found(alias_label(name));
    return ImageAlias{st.column_text(0), st.column_text(1), st.column_text(2)};
}

Result<std::vector<ImageAlias>> list_image_aliases(Transaction& tx) {
    LXM_TRY(auto st, tx.prepare("SELECT a.name, i.fingerprint, a.description FROM images_aliases a "
                                "JOIN images i ON i.id = a.image_id ORDER BY a.name"));
    std::vector<ImageAlias> out;
    for (;;) {
        LXM_TRY(bool row, st.step());
        if (!row) break;
        out.push_back({st.column_text(0), st.column_text(1), st.column_text(2)});
    }
    return out;
}

Result<void> update_image_alias(Transaction& tx, const ImageAlias& alias) {
    LXM_TRY(int64_t id, image_id(tx, alias.fingerprint));
    LXM_TRY(int64_t n, detail::exec_changes(tx, "UPDATE images_aliases SET image_id = ?2, description = ?3 WHERE name = ?1",
                                            {alias.name, id, alias.description}));
    if (n == 0) return not_found(alias_label(alias.name));
    return {};
}

Result<void> rename_image_alias(Transaction& tx, std::string_view name, std::string_view new_name) {
    auto n = detail::exec_changes(tx, "UPDATE images_aliases SET name = ?2 WHERE name = ?1",
                                  {std::string(name), std::string(new_name)});
    if (!n) return std::unexpected(on_write_error(std::move(n).error(), alias_label(new_name), "rename alias"));
    if (*n == 0) return not_found(alias_label(name));
    return {};
}

Result<void> delete_image_alias(Transaction& tx, std::string_view name) {
    LXM_TRY(int64_t n, detail::exec_changes(tx, "DELETE FROM images_aliases WHERE name = ?1", {std::string(name)}));
    if (n == 0) return not_found(alias_label(name));
    return {};
}

}  // namespace lxm::store
