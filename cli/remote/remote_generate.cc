#include "cli/remote/remote_generate.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/remote/liger_client.h"
#include "core/util/status_macros.h"

namespace liger::cli {
namespace {

// Replaces a text prompt by its token ids, encoded by the server with the model's tokenizer.
// `model` names the model that will run (the session's when continuing one).
absl::Status TokenizeRemotePrompt(LigerClient& client, const std::string& model,
                                  bool continuing_session, v1::GenerateRequest& request) {
  if (!request.has_text()) return absl::OkStatus();
  v1::TokenizeRequest tokenize;
  tokenize.set_model(model);
  tokenize.set_text(request.text());
  // The server's rule for an unset add_special_tokens (GenerateRequest's documentation).
  tokenize.set_add_special_tokens(request.has_add_special_tokens() ? request.add_special_tokens()
                                                                   : !continuing_session);
  LIGER_ASSIGN_OR_RETURN(v1::TokenizeResponse tokens, client.Tokenize(tokenize));
  *request.mutable_token_ids()->mutable_ids() = tokens.token_ids();
  return absl::OkStatus();
}

}  // namespace

absl::Status RunRemoteGenerate(const std::string& server, v1::GenerateRequest request,
                               bool print_ids) {
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<LigerClient> client, LigerClient::Connect(server));
  std::string model = request.model();
  bool continuing_session = false;
  if (!request.session_id().empty()) {
    LIGER_ASSIGN_OR_RETURN(v1::Session session, client->GetSession(request.session_id()));
    if (model.empty()) model = session.model();
    continuing_session = session.tokens() > 0;
  }
  LIGER_RETURN_IF_ERROR(TokenizeRemotePrompt(*client, model, continuing_session, request));

  v1::DetokenizeRequest detokenize;
  detokenize.set_model(model);
  *detokenize.mutable_token_ids() = request.token_ids().ids();
  detokenize.set_skip_special_tokens(true);
  LIGER_ASSIGN_OR_RETURN(v1::DetokenizeResponse prompt_text, client->Detokenize(detokenize));
  std::fputs(prompt_text.text().c_str(), stdout);
  std::fflush(stdout);

  std::vector<int32_t> generated;
  LIGER_RETURN_IF_ERROR(client->Generate(request, [&](const v1::GenerateResponse& response) {
    if (response.has_token()) {
      generated.push_back(response.token().token_id());
      std::fputs(response.token().text_delta().c_str(), stdout);
      std::fflush(stdout);
    }
    return absl::OkStatus();
  }));
  std::fputs("\n", stdout);
  if (print_ids) {
    std::string line = "ids:";
    for (int32_t id : generated) absl::StrAppend(&line, " ", id);
    std::puts(line.c_str());
  }
  return absl::OkStatus();
}

}  // namespace liger::cli
