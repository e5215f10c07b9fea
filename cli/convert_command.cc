#include <cstdio>

#include "absl/strings/str_cat.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/remote/remote_convert.h"
#include "core/convert/converter.h"
#include "core/util/status_macros.h"
#include "service/model_translation.h"

namespace liger {
namespace {

double ConvertMegabytes(uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

// The request `liger convert --server` sends: the local command's options, field by field.
absl::StatusOr<v1::ConvertRequest> RemoteConvertRequest(const std::string& model,
                                                        const std::string& output,
                                                        const ConversionOptions& options,
                                                        const CommandLine& cl) {
  v1::ConvertRequest request;
  request.set_model_dir(model);
  request.set_output_dir(output);
  request.set_variant(service::LigerVariantToProto(options.variant));
  if (request.variant() == v1::LIGER_VARIANT_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flag --variant must be gla, hgrn2 or gsa, got \"", options.variant, "\""));
  }
  request.set_window(options.window);
  request.set_mix(options.mix);
  request.mutable_softmax_layers()->Add(options.softmax_layers.begin(),
                                        options.softmax_layers.end());
  request.set_load_as(cl.String("load-as", ""));
  return request;
}

}  // namespace

absl::Status RunConvertCommand(const std::vector<std::string>& args) {
  LIGER_ASSIGN_OR_RETURN(
      CommandLine cl,
      CommandLine::Parse(args, {"model", "output", "variant", "window", "mix", "softmax-layers",
                                "server", "load-as"}));
  if (cl.Has("load-as") && !cl.Has("server")) {
    return absl::InvalidArgumentError("flag --load-as needs --server");
  }
  LIGER_ASSIGN_OR_RETURN(std::string model, cl.Required("model"));
  LIGER_ASSIGN_OR_RETURN(std::string output, cl.Required("output"));
  ConversionOptions options;
  LIGER_ASSIGN_OR_RETURN(options.variant, cl.Required("variant"));
  LIGER_ASSIGN_OR_RETURN(options.window, cl.Int("window", options.window));
  LIGER_ASSIGN_OR_RETURN(options.mix, cl.Double("mix", options.mix));
  LIGER_ASSIGN_OR_RETURN(options.softmax_layers, cl.IntList("softmax-layers"));
  if (cl.Has("server")) {
    LIGER_ASSIGN_OR_RETURN(v1::ConvertRequest request,
                           RemoteConvertRequest(model, output, options, cl));
    return cli::RunRemoteConvert(cl.String("server", ""), request);
  }
  LIGER_ASSIGN_OR_RETURN(
      ConversionResult result,
      ConvertCheckpoint(model, output, options, [](const ConversionProgress& p) {
        std::printf("[%d/%d] %s: %.1f of %.1f MB\n", p.file_index, p.file_count,
                    p.file_name.c_str(), ConvertMegabytes(p.bytes_written),
                    ConvertMegabytes(p.total_bytes));
        std::fflush(stdout);
        return absl::OkStatus();
      }));
  std::printf("converted %s to %s (liger_%s): %lld tensors, %d files, %.1f MB\n", model.c_str(),
              result.output_dir.c_str(), options.variant.c_str(),
              static_cast<long long>(result.tensors_copied), result.files_written,
              ConvertMegabytes(result.bytes_written));
  return absl::OkStatus();
}

}  // namespace liger
