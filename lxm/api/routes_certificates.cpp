// /1.0/certificates: the trust store over the API (lxd:lxd/certificates.go, LXD 5.0 shapes).
#include "lxm/api/remote_access.hpp"
#include "lxm/apitypes/certificate.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/base/log.hpp"
#include "store/errors.hpp"
#include "store/server_config.hpp"

namespace lxm::api {

using apitypes::http_error;
using base::Result;

namespace {

apitypes::Certificate to_api(const store::CertificateRecord& r) {
    apitypes::Certificate c;
    c.name = r.name;
    c.type = r.type;
    c.restricted = r.restricted;
    c.projects = r.projects;
    c.certificate = r.certificate;
    c.fingerprint = r.fingerprint;
    return c;
}

// The writable part, for ETags (as LXD hashes the whole Certificate).
json etag_of(const store::CertificateRecord& r) { return json(to_api(r)); }

// A full fingerprint or a unique prefix of one.
Result<store::CertificateRecord> find_cert(store::Transaction& tx, const std::string& prefix) {
    if (prefix.empty()) return http_error(404, "Certificate not found");
    LXM_TRY(auto all, store::list_certificates(tx));
    const store::CertificateRecord* hit = nullptr;
    for (const auto& c : all) {
        if (c.fingerprint == prefix) return c;
        if (c.fingerprint.starts_with(prefix)) {
            if (hit) return http_error(400, "More than one certificate matches \"" + prefix.substr(0, 64) + "\"");
            hit = &c;
        }
    }
    if (!hit) return http_error(404, "Certificate not found");
    return *hit;
}

Result<std::string> check_type(const std::string& type) {
    if (type.empty() || type == "client") return std::string("client");
    if (type == "metrics" || type == "server") return type;
    return http_error(400, "Unknown certificate type \"" + type.substr(0, 40) + "\"");
}

}  // namespace

void register_certificate_routes(Api& api, RemoteAccess& remote) {
    auto& st = remote.state();

    // GET /1.0: the trusted view names the server certificate and where it listens.
    api.server_info().environment = [&remote] {
        auto env = host_environment();
        env.certificate = remote.identity().cert_pem;
        env.certificate_fingerprint = remote.fingerprint();
        env.addresses = remote.addresses();
        return env;
    };
    // The trust password is shown as "true" (LXD hides it the same way).
    if (auto inner = api.server_info().config) {
        api.server_info().config = [inner] {
            json c = inner();
            if (c.is_object() && c.contains(std::string(kTrustPasswordKey))) c[std::string(kTrustPasswordKey)] = "true";
            return c;
        };
    }

    Route list;
    list.blocking = true;
    list.handler = [&st](const Request& req) -> Result<Response> {
        LXM_TRY(auto certs, st.store().read([](store::Transaction& tx) { return store::list_certificates(tx); }));
        json out = json::array();
        for (const auto& c : certs) {
            if (req.recursion() > 0) {
                json j = to_api(c);
                if (req.filter && !req.filter->matches(j)) continue;
                out.push_back(std::move(j));
            } else {
                out.push_back("/1.0/certificates/" + c.fingerprint);
            }
        }
        return Response::sync(std::move(out));
    };
    api.router().add("GET", "/1.0/certificates", std::move(list));

    Route add;
    add.blocking = true;
    add.allow_untrusted = true;  // password / token joins
    add.body_limit = kJsonBodyLimit;
    add.handler = [&st, &remote, &api](const Request& req) -> Result<Response> {
        LXM_TRY(auto body, req.body_as<apitypes::CertificatesPost>());
        if (body.token && !body.certificate.empty())
            return http_error(400, "Can't use certificate if token is requested");
        if (body.token && !body.type.empty() && body.type != "client")
            return http_error(400, "Tokens can only be issued for client certificates");

        if (!req.trusted) {
            if (body.password.empty()) return http_error(403, "not authorized");
            if (apitypes::decode_add_token(body.password)) {
                LXM_TRY(auto tok, remote.redeem_token(body.password));
                // The token decides name and type; the caller cannot override them.
                body = apitypes::CertificatesPost{};
                body.name = tok.name;
                body.type = tok.type;
            } else {
                LXM_TRY(auto cfg, st.store().read([](store::Transaction& tx) { return store::get_server_config(tx); }));
                auto it = cfg.find(std::string(kTrustPasswordKey));
                if (it == cfg.end() || it->second.empty() || !base::password_check(it->second, body.password)) {
                    LXM_WARN("bad trust password from {}", req.peer.address);
                    return http_error(403, "not authorized");
                }
                body.token = false;
            }
        }
        LXM_TRY(std::string type, check_type(body.type));

        std::string pem;
        if (!body.certificate.empty()) {
            auto der = base::base64_decode(body.certificate);
            if (!der) return http_error(400, "invalid certificate material: not base64");
            auto p = base::der_to_pem(*der);
            if (!p) return http_error(400, "invalid certificate material");
            pem = std::move(*p);
        } else if (body.token) {
            LXM_TRY(auto op, remote.issue_token(body.name, type));
            return Response::async(op->snapshot());
        } else if (req.peer.kind == Peer::Kind::tls) {
            if (req.peer.cert_pem.empty()) return http_error(400, "No client certificate provided");
            pem = req.peer.cert_pem;
        } else {
            return http_error(400, "Can't use TLS data on non-TLS link");
        }
        LXM_TRY(std::string fp, base::cert_fingerprint(pem));
        std::string name = body.name;
        if (name.empty()) name = base::cert_common_name(pem).value_or("");
        if (name.empty()) name = req.peer.address.substr(0, req.peer.address.rfind(':'));

        store::CertificateRecord rec;
        rec.fingerprint = fp;
        rec.type = type;
        rec.name = name;
        rec.certificate = pem;
        rec.restricted = body.restricted;
        rec.projects = body.projects;
        auto created = st.store().write([&](store::Transaction& tx) { return store::create_certificate(tx, rec); });
        if (!created) {
            if (created.error().code == std::errc::file_exists)
                return http_error(409, "Certificate already in trust store");
            return std::unexpected(created.error());
        }
        LXM_TRY_VOID(remote.reload_trust());
        api.events().emit_lifecycle("certificate-created", "/1.0/certificates/" + fp, json::object());
        return Response::created("/1.0/certificates/" + fp);
    };
    api.router().add("POST", "/1.0/certificates", std::move(add));

    Route get;
    get.blocking = true;
    get.handler = [&st](const Request& req) -> Result<Response> {
        LXM_TRY(auto c, st.store().read([&](store::Transaction& tx) { return find_cert(tx, req.param("fingerprint")); }));
        return Response::sync_etag(json(to_api(c)), etag_hash(etag_of(c)));
    };
    api.router().add("GET", "/1.0/certificates/{fingerprint}", std::move(get));

    for (bool patch : {false, true}) {
        Route upd;
        upd.blocking = true;
        upd.body_limit = kJsonBodyLimit;
        upd.handler = [&st, &remote, &api, patch](const Request& req) -> Result<Response> {
            const auto& j = req.json_body();
            if (!j) return std::unexpected(j.error());
            std::string fp;
            LXM_TRY_VOID(st.store().write([&](store::Transaction& tx) -> Result<void> {
                LXM_TRY(auto cur, find_cert(tx, req.param("fingerprint")));
                LXM_TRY_VOID(etag_check(req, etag_of(cur)));
                json merged = patch ? json(to_api(cur)) : json::object();
                if (!j->is_object()) return http_error(400, "The request body must be a JSON object");
                for (const auto& [k, v] : j->items()) merged[k] = v;
                merged.erase("fingerprint");
                merged.erase("certificate");  // read-only (LXD ignores it on update)
                LXM_TRY(auto put, apitypes::parse_as<apitypes::CertificatePut>(merged));
                LXM_TRY(std::string type, check_type(put.type));
                store::CertificateRecord next = cur;
                next.name = put.name;
                next.type = type;
                next.restricted = put.restricted;
                next.projects = put.projects;
                fp = cur.fingerprint;
                return store::update_certificate(tx, next);
            }));
            LXM_TRY_VOID(remote.reload_trust());
            api.events().emit_lifecycle("certificate-updated", "/1.0/certificates/" + fp, json::object());
            return Response::empty();
        };
        api.router().add(patch ? "PATCH" : "PUT", "/1.0/certificates/{fingerprint}", std::move(upd));
    }

    Route del;
    del.blocking = true;
    del.handler = [&st, &remote, &api](const Request& req) -> Result<Response> {
        std::string fp;
        LXM_TRY_VOID(st.store().write([&](store::Transaction& tx) -> Result<void> {
            LXM_TRY(auto cur, find_cert(tx, req.param("fingerprint")));
            fp = cur.fingerprint;
            return store::delete_certificate(tx, fp);
        }));
        // From here on the certificate's holder is refused, on open connections too.
        LXM_TRY_VOID(remote.reload_trust());
        api.events().emit_lifecycle("certificate-deleted", "/1.0/certificates/" + fp, json::object());
        return Response::empty();
    };
    api.router().add("DELETE", "/1.0/certificates/{fingerprint}", std::move(del));

    // The endpoint table with its trust rules (trusted callers only; the trust e2e test walks it).
    auto& router = api.router();
    api.router().get("/internal/routes", [&router](const Request&) -> Result<Response> {
        json out = json::array();
        for (const auto& e : router.list())
            out.push_back({{"method", e.method}, {"pattern", e.pattern}, {"allow_untrusted", e.allow_untrusted}});
        return Response::sync(std::move(out));
    });
}

}  // namespace lxm::api
