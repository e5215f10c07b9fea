#include "service/import_session_call.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "service/session_translation.h"

namespace liger::service {
namespace {

// An export is its state plus a header of well under this.
constexpr int64_t kExportHeaderAllowance = int64_t{1} << 20;

}  // namespace

ImportSessionCall::ImportSessionCall(std::unique_ptr<RpcScope> scope, SessionStore* sessions,
                                     v1::ImportSessionResponse* response)
    : scope_(std::move(scope)),
      sessions_(sessions),
      response_(response),
      max_bytes_(sessions->Stats().budget_bytes + kExportHeaderAllowance) {
  if (!scope_->admitted()) {
    FinishWith(scope_->rejection());
    return;
  }
  StartRead(&chunk_);
}

void ImportSessionCall::OnReadDone(bool ok) {
  if (ok) {
    if (static_cast<int64_t>(bytes_.size() + chunk_.chunk().size()) > max_bytes_) {
      return FinishWith(absl::ResourceExhaustedError(absl::StrCat(
          "the imported session is larger than this server's whole session budget (",
          max_bytes_ - kExportHeaderAllowance, " bytes)")));
    }
    bytes_ += chunk_.chunk();
    return StartRead(&chunk_);
  }
  // Reads also end when the call is cancelled; the bytes are then incomplete and fail their
  // checksum, so nothing is imported.
  absl::StatusOr<SessionInfo> imported = sessions_->Import(bytes_, scope_->tenant());
  if (imported.ok()) {
    scope_->AddLogField("session_id", imported->id);
    SessionInfoToProto(*imported, response_->mutable_session());
  }
  FinishWith(imported.status());
}

void ImportSessionCall::FinishWith(const absl::Status& status) { Finish(scope_->Finish(status)); }

}  // namespace liger::service
