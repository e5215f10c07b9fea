#include "cli/remote/session_json.h"

#include "google/protobuf/util/time_util.h"

namespace liger::cli {

nlohmann::ordered_json SessionToJson(const v1::Session& session) {
  using google::protobuf::util::TimeUtil;
  return nlohmann::ordered_json{
      {"session_id", session.session_id()},
      {"model", session.model()},
      {"tokens", session.tokens()},
      {"state_bytes", session.state_bytes()},
      {"created_at", TimeUtil::ToString(session.created_at())},
      {"last_used_at", TimeUtil::ToString(session.last_used_at())},
      {"busy", session.busy()},
  };
}

}  // namespace liger::cli
