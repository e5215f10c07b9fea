#include <iostream>

#include "absl/strings/str_join.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "core/tokenizer/tokenizer_loader.h"
#include "core/util/status_macros.h"

namespace liger {

absl::Status RunTokenizeCommand(const std::vector<std::string>& args) {
  LIGER_ASSIGN_OR_RETURN(CommandLine cl, CommandLine::Parse(args, {"model", "text"}, {"no-special"}));
  LIGER_ASSIGN_OR_RETURN(std::string dir, cl.Required("model"));
  LIGER_ASSIGN_OR_RETURN(std::string text, cl.Required("text"));
  LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(dir));
  LIGER_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer->Encode(text, !cl.Has("no-special")));
  std::cout << "[" << absl::StrJoin(ids, ", ") << "]\n";
  return absl::OkStatus();
}

}  // namespace liger
