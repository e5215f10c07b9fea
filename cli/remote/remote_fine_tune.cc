#include "cli/remote/remote_fine_tune.h"

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "cli/remote/liger_client.h"
#include "core/util/status_macros.h"

namespace liger::cli {
namespace {

// "RUNNING" for JOB_STATE_RUNNING.
std::string FineTuneStateName(v1::JobState state) {
  absl::string_view name = v1::JobState_Name(state);
  absl::ConsumePrefix(&name, "JOB_STATE_");
  return std::string(name);
}

std::string FineTuneJobLine(const v1::Job& job) {
  const v1::JobProgress& p = job.progress();
  std::string line = absl::StrCat("job ", job.job_id(), ": ", FineTuneStateName(job.state()));
  if (p.total_steps() > 0) {
    absl::StrAppendFormat(&line, " step %d/%d epoch %d loss %.4f lr %.3g tokens/s %.1f", p.step(),
                          p.total_steps(), p.epoch(), p.loss(), p.learning_rate(),
                          p.tokens_per_second());
  }
  if (p.has_distill_kl()) absl::StrAppendFormat(&line, " distill-kl %.4f", p.distill_kl());
  if (p.has_eval_perplexity()) absl::StrAppendFormat(&line, " eval-ppl %.4f", p.eval_perplexity());
  if (job.state() == v1::JOB_STATE_SUCCEEDED) {
    absl::StrAppend(&line, " output ", job.request().output_dir());
  }
  return line;
}

}  // namespace

absl::Status RunRemoteFineTune(const std::string& server, const v1::FineTuneRequest& request) {
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<LigerClient> client, LigerClient::Connect(server));
  LIGER_ASSIGN_OR_RETURN(v1::Job submitted, client->FineTune(request));
  std::printf("submitted job %s\n", submitted.job_id().c_str());
  std::fflush(stdout);
  v1::Job last = submitted;
  LIGER_RETURN_IF_ERROR(client->WatchJob(submitted.job_id(), [&last](const v1::Job& job) {
    std::puts(FineTuneJobLine(job).c_str());
    std::fflush(stdout);
    last = job;
  }));
  switch (last.state()) {
    case v1::JOB_STATE_SUCCEEDED:
      return absl::OkStatus();
    case v1::JOB_STATE_FAILED:
      return absl::AbortedError(
          absl::StrCat("ABORTED: fine-tuning job ", last.job_id(), " failed: ", last.error_message()));
    case v1::JOB_STATE_CANCELLED:
      return absl::CancelledError(
          absl::StrCat("CANCELLED: fine-tuning job ", last.job_id(), " was cancelled"));
    default:
      break;
  }
  return absl::UnavailableError(absl::StrCat(
      "UNAVAILABLE: the watch of job ", last.job_id(), " ended while it was ",
      FineTuneStateName(last.state()), "; it goes on at ", server,
      " (GetJob or WatchJob follow it)"));
}

}  // namespace liger::cli
