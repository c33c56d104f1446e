// The response envelope of every LXD 1.0 answer (lxd:shared/api/response.go):
//   sync  {"type":"sync","status":"Success","status_code":200,"metadata":...}
//   async {"type":"async","status":"Operation created","status_code":100,"operation":"/1.0/operations/<id>","metadata":<Operation>}
//   error {"type":"error","error":"<text>","error_code":<http>,"metadata":null}
#pragma once

#include <string>

#include "lxm/apitypes/json_util.hpp"

namespace lxm::apitypes {

struct Envelope {
    std::string type;  // "sync" | "async" | "error"
    std::string status;
    int status_code = 0;
    std::string operation;  // async only
    int error_code = 0;     // error only
    std::string error;      // error only
    json metadata;          // null when absent

    static Envelope sync(json metadata);
    static Envelope async(std::string operation_url, json operation);
    static Envelope failure(int http_status, std::string message);
};

void to_json(json& j, const Envelope& e);
void from_json(const json& j, Envelope& e);

}  // namespace lxm::apitypes
