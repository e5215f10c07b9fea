#include "service/session_translation.h"

#include "google/protobuf/util/time_util.h"

namespace liger::service {

void SessionInfoToProto(const SessionInfo& info, v1::Session* session) {
  using google::protobuf::util::TimeUtil;
  session->set_session_id(info.id);
  session->set_model(info.model);
  session->set_tokens(info.tokens);
  session->set_state_bytes(info.state_bytes);
  *session->mutable_created_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(info.created));
  *session->mutable_last_used_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(info.last_used));
  session->set_busy(info.busy);
}

}  // namespace liger::service
