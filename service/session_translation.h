#pragma once

#include "core/serving/session_info.h"
#include "liger/v1/liger.pb.h"

namespace liger::service {

// Core -> protobuf translation of the session RPCs' types.
void SessionInfoToProto(const SessionInfo& info, v1::Session* session);

}  // namespace liger::service
