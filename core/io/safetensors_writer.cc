#include "core/io/safetensors_writer.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <set>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/io/atomic_file_writer.h"
#include "core/io/safetensors_header.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

using OrderedJson = nlohmann::ordered_json;

bool IsValidUtf8(std::string_view text) {
  try {
    OrderedJson(std::string(text)).dump();
    return true;
  } catch (const OrderedJson::type_error&) {
    return false;
  }
}

absl::Status CheckTensor(const std::string& name, const TensorView& view) {
  const auto invalid = [&name](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor \"", absl::Utf8SafeCHexEscape(name), "\": ", what));
  };
  if (name == "__metadata__") return invalid("the name is reserved for metadata");
  if (!IsValidUtf8(name)) return invalid("the name is not valid UTF-8");
  const size_t element_size = DTypeSize(view.dtype);
  if (element_size == 0) return invalid("invalid dtype");
  int64_t nbytes = static_cast<int64_t>(element_size);
  for (int64_t dim : view.shape) {
    if (dim < 0) return invalid(absl::StrCat("negative dimension ", dim));
    if (__builtin_mul_overflow(nbytes, dim, &nbytes)) return invalid("shape overflows 64 bits");
  }
  if (static_cast<uint64_t>(nbytes) != view.nbytes) {
    return invalid(absl::StrCat("nbytes is ", view.nbytes, " but shape and dtype ",
                                std::string(DTypeName(view.dtype)), " need ", nbytes));
  }
  if (view.nbytes > 0 && view.data == nullptr) return invalid("data is null");
  return absl::OkStatus();
}

absl::StatusOr<std::string> PaddedHeader(
    const std::vector<std::pair<std::string, TensorView>>& tensors,
    const std::vector<size_t>& order, const std::map<std::string, std::string>& metadata) {
  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) {
    OrderedJson& meta = header["__metadata__"];
    for (const auto& [key, value] : metadata) {
      if (!IsValidUtf8(key) || !IsValidUtf8(value)) {
        return absl::InvalidArgumentError(absl::StrCat("metadata \"", absl::Utf8SafeCHexEscape(key),
                                                       "\": key or value is not valid UTF-8"));
      }
      meta[key] = value;
    }
  }
  uint64_t offset = 0;
  for (size_t index : order) {
    const auto& [name, view] = tensors[index];
    header[name] = {{"dtype", std::string(DTypeName(view.dtype))},
                    {"shape", view.shape},
                    {"data_offsets", {offset, offset + view.nbytes}}};
    offset += view.nbytes;
  }
  std::string text = header.dump();
  // The reference implementation pads with spaces so that the data section starts 8-aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  if (text.size() > kMaxSafetensorsHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the header would be ", text.size(),
                                                   " bytes, over the limit of ",
                                                   kMaxSafetensorsHeaderBytes));
  }
  return text;
}

absl::Status Annotate(const absl::Status& status, const std::string& path) {
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, TensorView>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::set<std::string_view> names;
  for (const auto& [name, view] : tensors) {
    if (absl::Status status = CheckTensor(name, view); !status.ok()) return Annotate(status, path);
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensor \"", absl::Utf8SafeCHexEscape(name), "\" is given more than once"));
    }
  }
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&tensors](size_t a, size_t b) {
    return DTypeSize(tensors[a].second.dtype) > DTypeSize(tensors[b].second.dtype);
  });
  absl::StatusOr<std::string> header = PaddedHeader(tensors, order, metadata);
  if (!header.ok()) return Annotate(header.status(), path);

  char length[8];
  for (size_t i = 0; i < sizeof(length); ++i) {
    length[i] = static_cast<char>((uint64_t{header->size()} >> (8 * i)) & 0xff);
  }
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> writer = AtomicFileWriter::Create(path);
  if (!writer.ok()) return writer.status();
  absl::Status status = (*writer)->Append(std::string_view(length, sizeof(length)));
  if (status.ok()) status = (*writer)->Append(*header);
  for (size_t i = 0; status.ok() && i < order.size(); ++i) {
    const TensorView& view = tensors[order[i]].second;
    status = (*writer)->Append(std::string_view(static_cast<const char*>(view.data), view.nbytes));
  }
  if (!status.ok()) return status;
  return (*writer)->Commit();
}

}  // namespace liger
