#include <gtest/gtest.h>

#include "lxm/apitypes/envelope.hpp"
#include "lxm/apitypes/http_error.hpp"
#include "lxm/apitypes/instance.hpp"
#include "lxm/apitypes/operation.hpp"
#include "lxm/apitypes/profile.hpp"
#include "lxm/apitypes/server.hpp"
#include "lxm/apitypes/status.hpp"
#include "lxm/apitypes/time.hpp"

using namespace lxm::apitypes;
using nlohmann::json;

TEST(ApiTypesStatus, TableAndFinal) {
    EXPECT_EQ(status_text(StatusCode::created), "Created");
    EXPECT_EQ(status_text(StatusCode::error), "Error");
    EXPECT_EQ(status_text(StatusCode::cancelled), "Cancelled");
    EXPECT_EQ(static_cast<int>(*status_from_text("Frozen")), 110);
    EXPECT_TRUE(is_final(StatusCode::failure));
    EXPECT_FALSE(is_final(StatusCode::running));
}

TEST(ApiTypesTime, Rfc3339LikeGo) {
    auto t = *parse_rfc3339("2023-03-01T10:20:30.123456789Z");
    EXPECT_EQ(format_rfc3339(t), "2023-03-01T10:20:30.123456789Z");
    EXPECT_EQ(format_rfc3339(*parse_rfc3339("2023-03-01T10:20:30.5Z")), "2023-03-01T10:20:30.5Z");
    EXPECT_EQ(format_rfc3339(*parse_rfc3339("2023-03-01T11:20:30+01:00")), "2023-03-01T10:20:30Z");
    EXPECT_EQ(format_rfc3339(*parse_rfc3339("0001-01-01T00:00:00Z")), "0001-01-01T00:00:00Z");
    EXPECT_EQ(format_rfc3339(*parse_rfc3339("1970-01-01T00:00:00Z")), "1970-01-01T00:00:00Z");
    EXPECT_FALSE(parse_rfc3339("yesterday"));
    EXPECT_FALSE(parse_rfc3339("2023-03-01T10:20:30"));
}

TEST(ApiTypesEnvelope, ExactShapes) {
    EXPECT_EQ(json(Envelope::sync(json::object())).dump(),
              R"({"metadata":{},"status":"Success","status_code":200,"type":"sync"})");
    EXPECT_EQ(json(Envelope::failure(404, "not found")).dump(),
              R"({"error":"not found","error_code":404,"metadata":null,"type":"error"})");
    auto a = json(Envelope::async("/1.0/operations/x", json{{"id", "x"}}));
    EXPECT_EQ(a["status_code"], 100);
    EXPECT_EQ(a["status"], "Operation created");
    EXPECT_EQ(a["operation"], "/1.0/operations/x");
    auto back = json::parse(a.dump()).get<Envelope>();
    EXPECT_EQ(back.type, "async");
    EXPECT_EQ(back.metadata["id"], "x");
}

TEST(ApiTypesOperation, RoundTrip) {
    Operation op;
    op.id = "1234";
    op.op_class = "websocket";
    op.created_at = *parse_rfc3339("2023-01-02T03:04:05.000000007Z");
    op.updated_at = op.created_at;
    op.status = "Running";
    op.status_code = StatusCode::running;
    op.resources["instances"] = {"/1.0/instances/c1"};
    op.metadata = {{"fds", {{"0", "abc"}}}};
    op.may_cancel = true;
    json j = op;
    EXPECT_EQ(j["class"], "websocket");
    EXPECT_EQ(j["created_at"], "2023-01-02T03:04:05.000000007Z");
    EXPECT_EQ(j["status_code"], 103);
    EXPECT_EQ(j["location"], "none");
    auto back = j.get<Operation>();
    EXPECT_EQ(json(back), j);
    Operation empty;
    EXPECT_TRUE(json(empty)["resources"].is_null());
}

TEST(ApiTypesServer, UntrustedViewHasNoEnvironment) {
    ServerInfo s;
    s.api_extensions = {"api_filtering"};
    json j = s;
    EXPECT_FALSE(j.contains("environment"));
    EXPECT_EQ(j["api_version"], "1.0");
    EXPECT_EQ(j["public"], false);
    s.auth = "trusted";
    s.environment = ServerEnvironment{};
    s.environment->server_pid = 42;
    s.config = json::object();
    j = s;
    EXPECT_EQ(j["environment"]["server"], "lxm");
    EXPECT_EQ(j["environment"]["driver"], "lxm");
    EXPECT_EQ(j["environment"]["project"], "default");
    EXPECT_EQ(j["environment"]["server_clustered"], false);
    EXPECT_EQ(json(j.get<ServerInfo>()), j);
}

// Bodies exactly as lxc 5.0.2 sends them (LXD-API.md §2.3).
TEST(ApiTypesInstance, LaunchBodyFromLxc) {
    auto j = json::parse(R"({"architecture":"","config":{},"devices":{},"ephemeral":false,"profiles":null,
        "stateful":false,"description":"","name":"c1","source":{"type":"image","certificate":"","alias":"debian/12",
        "server":"https://images.linuxcontainers.org","protocol":"simplestreams","mode":"pull",
        "allow_inconsistent":false},"instance_type":"","type":"container"})");
    auto p = *parse_as<InstancesPost>(j);
    EXPECT_EQ(p.name, "c1");
    EXPECT_FALSE(p.profiles.has_value());
    EXPECT_EQ(p.source.alias, "debian/12");
    EXPECT_EQ(p.source.mode, "pull");
    EXPECT_EQ(p.type, "container");
    auto again = json(p).get<InstancesPost>();
    EXPECT_EQ(json(again), json(p));
}

TEST(ApiTypesInstance, StateExecSnapshotBodies) {
    auto st = *parse_as<InstanceStatePut>(json::parse(R"({"action":"stop","timeout":-1,"force":true,"stateful":false})"));
    EXPECT_EQ(st.action, "stop");
    EXPECT_EQ(st.timeout, -1);
    EXPECT_TRUE(st.force);

    auto ex = *parse_as<InstanceExecPost>(json::parse(
        R"({"command":["ls","-l"],"environment":{"TERM":"xterm"},"interactive":false,"wait-for-websocket":true,
            "record-output":false,"width":80,"height":24,"user":0,"group":0,"cwd":""})"));
    EXPECT_EQ(ex.command.size(), 2u);
    EXPECT_TRUE(ex.wait_for_websocket);
    EXPECT_EQ(ex.environment.at("TERM"), "xterm");
    EXPECT_EQ(json(ex)["wait-for-websocket"], true);

    auto sn = *parse_as<InstanceSnapshotsPost>(json::parse(R"({"name":"s0","stateful":false,"expires_at":null})"));
    EXPECT_EQ(sn.name, "s0");
    EXPECT_FALSE(sn.expires_at);

    auto put = *parse_as<InstancePut>(json::parse(
        R"({"restore":"c1/s0","stateful":false,"architecture":"","config":null,"devices":null,"profiles":null,"ephemeral":false,"description":""})"));
    EXPECT_EQ(put.restore, "c1/s0");
    EXPECT_TRUE(put.config.empty());
}

TEST(ApiTypesInstance, FullInstanceRoundTrip) {
    Instance i;
    i.name = "c1";
    i.status = "Running";
    i.status_code = StatusCode::running;
    i.config = {{"image.os", "debian"}};
    i.devices = {{"eth0", {{"type", "nic"}, {"network", "lxmbr0"}}}};
    i.profiles = {"default"};
    i.created_at = now();
    InstanceState st;
    st.status = "Running";
    st.status_code = StatusCode::running;
    st.pid = 77;
    st.network["eth0"].addresses.push_back({"inet", "10.0.0.2", "24", "global"});
    i.state = st;
    i.snapshots = std::vector<InstanceSnapshot>{};
    i.backups = std::vector<InstanceBackup>{};
    json j = i;
    EXPECT_EQ(j["state"]["network"]["eth0"]["addresses"][0]["address"], "10.0.0.2");
    EXPECT_EQ(j["status_code"], 103);
    EXPECT_EQ(json(j.get<Instance>()), j);
    Instance plain;
    EXPECT_FALSE(json(plain).contains("state"));
}

TEST(ApiTypesInstance, BadTypeIsInvalidArgument) {
    auto r = parse_as<InstanceStatePut>(json::parse(R"({"action":5})"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::invalid_argument);
    EXPECT_FALSE(parse_as<InstanceStatePut>(json::parse("[1]")));
}

TEST(ApiTypesProfile, RoundTrip) {
    Profile p{"default", "Default profile", {{"limits.cpu", "2"}}, {{"root", {{"type", "disk"}, {"path", "/"}}}}, {"/1.0/instances/c1"}};
    json j = p;
    EXPECT_EQ(j["used_by"][0], "/1.0/instances/c1");
    EXPECT_EQ(json(j.get<Profile>()), j);
}

TEST(ApiTypesHttpError, Table) {
    using lxm::base::Error;
    auto sys = [](int e) { return Error{std::error_code(e, std::system_category()), "x"}; };
    EXPECT_EQ(http_status_for(sys(ENOENT)), 404);
    EXPECT_EQ(http_status_for(Error{std::make_error_code(std::errc::file_exists), ""}), 409);
    EXPECT_EQ(http_status_for(sys(EINVAL)), 400);
    EXPECT_EQ(http_status_for(sys(EPERM)), 403);
    EXPECT_EQ(http_status_for(sys(EACCES)), 403);
    EXPECT_EQ(http_status_for(sys(EOPNOTSUPP)), 501);
    EXPECT_EQ(http_status_for(sys(EIO)), 500);
    auto e = http_error(412, "ETag mismatch").error();
    EXPECT_EQ(http_status_for(e), 412);
    EXPECT_EQ(user_message(e), "ETag mismatch");
}
