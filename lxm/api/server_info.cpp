#include "lxm/api/server_info.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include "lxm/api/router.hpp"

#ifndef LXM_VERSION
#define LXM_VERSION "0.0.0"
#endif

namespace lxm::api {

std::vector<std::string> transport_extensions() { return {"api_filtering"}; }

apitypes::ServerEnvironment host_environment() {
    apitypes::ServerEnvironment env;
    utsname u{};
    if (::uname(&u) == 0) {
        env.kernel = u.sysname;
        env.kernel_architecture = u.machine;
        env.kernel_version = u.release;
        env.architectures = {u.machine};
    }
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) env.server_name = host;
    env.server_pid = ::getpid();
    env.server_version = LXM_VERSION;
    env.driver_version = LXM_VERSION;
    return env;
}

void register_server_routes(Router& r, const ServerInfoSource& source) {
    r.add("GET", "/", Route{[](const Request&) -> base::Result<Response> {
                                return Response::sync(nlohmann::json::array({"/1.0"}));
                            },
                            /*allow_untrusted=*/true});
    r.add("GET", "/1.0",
          Route{[&source](const Request& req) -> base::Result<Response> {
                    apitypes::ServerInfo info;
                    info.api_extensions = source.extensions;
                    info.auth_methods = source.auth_methods;
                    info.auth = req.trusted ? "trusted" : "untrusted";
                    if (req.trusted) {
                        info.environment = source.environment ? source.environment() : host_environment();
                        info.environment->project = req.project();
                        info.config = source.config ? source.config() : nlohmann::json::object();
                    }
                    return Response::sync(nlohmann::json(info));
                },
                /*allow_untrusted=*/true});
}

}  // namespace lxm::api
