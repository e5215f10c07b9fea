#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/remote/liger_client.h"
#include "cli/remote/session_json.h"
#include "core/util/status_macros.h"

namespace liger {
namespace {

// The flags each `liger session` action takes besides --server.
const std::map<std::string, std::set<std::string>>& SessionActionFlags() {
  static const std::map<std::string, std::set<std::string>> flags = {
      {"create", {"server", "model-name"}}, {"get", {"server", "id"}},
      {"delete", {"server", "id"}},         {"fork", {"server", "id"}},
      {"list", {"server", "model-name"}},
  };
  return flags;
}

void PrintSessionJson(const nlohmann::ordered_json& json) {
  std::puts(json.dump(2).c_str());
}

// `id` is the --id of the actions that name a session, "" for create and list.
absl::Status RunSessionAction(const std::string& action, const std::string& id,
                              const CommandLine& cl, cli::LigerClient& client) {
  if (action == "create") {
    v1::CreateSessionRequest request;
    request.set_model(cl.String("model-name", ""));
    LIGER_ASSIGN_OR_RETURN(v1::Session session, client.CreateSession(request));
    PrintSessionJson(cli::SessionToJson(session));
    return absl::OkStatus();
  }
  if (action == "list") {
    v1::ListSessionsRequest request;
    request.set_model(cl.String("model-name", ""));
    LIGER_ASSIGN_OR_RETURN(v1::ListSessionsResponse response, client.ListSessions(request));
    nlohmann::ordered_json sessions = nlohmann::ordered_json::array();
    for (const v1::Session& session : response.sessions()) {
      sessions.push_back(cli::SessionToJson(session));
    }
    PrintSessionJson(sessions);
    return absl::OkStatus();
  }
  if (action == "delete") return client.DeleteSession(id);
  LIGER_ASSIGN_OR_RETURN(v1::Session session,
                         action == "get" ? client.GetSession(id) : client.ForkSession(id));
  PrintSessionJson(cli::SessionToJson(session));
  return absl::OkStatus();
}

}  // namespace

absl::Status RunSessionCommand(const std::vector<std::string>& args) {
  const auto& actions = SessionActionFlags();
  if (args.empty() || actions.count(args[0]) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected an action: create, get, delete, list or fork",
        args.empty() ? std::string() : absl::StrCat(", got \"", args[0], "\"")));
  }
  const std::string& action = args[0];
  LIGER_ASSIGN_OR_RETURN(
      CommandLine cl,
      CommandLine::Parse(std::vector<std::string>(args.begin() + 1, args.end()),
                         actions.at(action)));
  LIGER_ASSIGN_OR_RETURN(std::string server, cl.Required("server"));
  std::string id;
  if (actions.at(action).count("id")) {
    LIGER_ASSIGN_OR_RETURN(id, cl.Required("id"));
    if (id.empty()) return absl::InvalidArgumentError("flag --id must not be empty");
  }
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<cli::LigerClient> client,
                         cli::LigerClient::Connect(server));
  return RunSessionAction(action, id, cl, *client);
}

}  // namespace liger
