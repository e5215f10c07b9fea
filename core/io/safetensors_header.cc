#include "core/io/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/io/strict_json.h"

namespace liger {
namespace {

using Json = nlohmann::json;
using Entry = SafetensorsHeader::Entry;

constexpr size_t kLengthPrefixBytes = 8;

// Reads a JSON number that must be a non-negative integer.
absl::StatusOr<uint64_t> NonNegativeInteger(const Json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  // nlohmann stores "-0" as a signed integer; it is still zero.
  if (value.is_number_integer()) {
    if (value.get<int64_t>() == 0) return 0;
    return absl::DataLossError(absl::StrCat("negative value ", value.dump()));
  }
  if (value.is_number_float()) {
    return absl::DataLossError(absl::StrCat("non-integer value ", value.dump()));
  }
  return absl::DataLossError(absl::StrCat("expected an integer, got a JSON ", value.type_name()));
}

class EntryParser {
 public:
  EntryParser(const std::string& path, const std::string& name, uint64_t data_begin,
              uint64_t data_end)
      : prefix_(absl::StrCat(path, ": tensor \"", absl::Utf8SafeCHexEscape(name), "\": ")),
        data_begin_(data_begin),
        data_end_(data_end) {}

  absl::StatusOr<Entry> Parse(const Json& value) const {
    if (!value.is_object()) return Corrupt("entry is not a JSON object");
    for (const auto& field : value.items()) {
      if (field.key() != "dtype" && field.key() != "shape" && field.key() != "data_offsets") {
        return Corrupt(
            absl::StrCat("unknown field \"", absl::Utf8SafeCHexEscape(field.key()), "\""));
      }
    }
    Entry entry;
    const auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string())
      return Corrupt("\"dtype\" is missing or not a string");
    absl::StatusOr<DType> parsed_dtype = DTypeFromName(dtype->get_ref<const std::string&>());
    if (!parsed_dtype.ok()) {
      return absl::Status(parsed_dtype.status().code(),
                          absl::StrCat(prefix_, parsed_dtype.status().message()));
    }
    entry.dtype = *parsed_dtype;

    absl::StatusOr<uint64_t> nbytes = ParseShape(value, entry.shape, DTypeSize(entry.dtype));
    if (!nbytes.ok()) return nbytes.status();

    const auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2) {
      return Corrupt("\"data_offsets\" is missing or not a [begin, end] pair");
    }
    absl::StatusOr<uint64_t> begin = NonNegativeInteger((*offsets)[0]);
    absl::StatusOr<uint64_t> end = NonNegativeInteger((*offsets)[1]);
    if (!begin.ok()) return Corrupt(absl::StrCat("data_offsets: ", begin.status().message()));
    if (!end.ok()) return Corrupt(absl::StrCat("data_offsets: ", end.status().message()));
    const uint64_t data_size = data_end_ - data_begin_;
    if (*begin > *end) return Corrupt(absl::StrCat("data_offsets begin ", *begin, " > end ", *end));
    if (*end > data_size) {
      return Corrupt(absl::StrCat("data_offsets end ", *end, " is past the ", data_size,
                                  "-byte data section (file truncated?)"));
    }
    if (*end - *begin != *nbytes) {
      return Corrupt(absl::StrCat("data_offsets span ", *end - *begin,
                                  " bytes but shape and dtype ",
                                  std::string(DTypeName(entry.dtype)), " need ", *nbytes));
    }
    entry.begin = data_begin_ + *begin;
    entry.end = data_begin_ + *end;
    return entry;
  }

 private:
  absl::Status Corrupt(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat(prefix_, what));
  }

  // Fills `shape` and returns the tensor's byte size, refusing sizes that overflow.
  absl::StatusOr<uint64_t> ParseShape(const Json& value, std::vector<int64_t>& shape,
                                      uint64_t element_size) const {
    const auto field = value.find("shape");
    if (field == value.end() || !field->is_array())
      return Corrupt("\"shape\" is missing or not an array");
    // Every partial product stays within int64 so that TensorView::numel() cannot overflow either.
    int64_t nbytes = static_cast<int64_t>(element_size);
    for (const Json& dim_value : *field) {
      absl::StatusOr<uint64_t> dim = NonNegativeInteger(dim_value);
      if (!dim.ok()) return Corrupt(absl::StrCat("shape: ", dim.status().message()));
      if (*dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          __builtin_mul_overflow(nbytes, static_cast<int64_t>(*dim), &nbytes)) {
        return Corrupt(absl::StrCat("shape overflows 64 bits at dimension ", shape.size()));
      }
      shape.push_back(static_cast<int64_t>(*dim));
    }
    return static_cast<uint64_t>(nbytes);
  }

  std::string prefix_;
  uint64_t data_begin_;
  uint64_t data_end_;
};

absl::Status CheckNoOverlap(const SafetensorsHeader& header, const std::string& path) {
  std::vector<std::pair<const std::string*, const Entry*>> ranges;
  for (const auto& [name, entry] : header.tensors) {
    // Empty tensors own no bytes, so they cannot overlap anything.
    if (entry.begin != entry.end) ranges.emplace_back(&name, &entry);
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].second->begin < ranges[i - 1].second->end) {
      return absl::DataLossError(
          absl::StrCat(path, ": tensors \"", absl::Utf8SafeCHexEscape(*ranges[i - 1].first),
                       "\" and \"", absl::Utf8SafeCHexEscape(*ranges[i].first), "\" overlap"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(std::string_view file,
                                                         const std::string& path) {
  if (file.size() < kLengthPrefixBytes) {
    return absl::DataLossError(absl::StrCat(path, ": file is ", file.size(),
                                            " bytes, too short for a safetensors header length"));
  }
  uint64_t header_size = 0;
  for (size_t i = 0; i < kLengthPrefixBytes; ++i) {
    header_size |= uint64_t{static_cast<unsigned char>(file[i])} << (8 * i);
  }
  const uint64_t available = file.size() - kLengthPrefixBytes;
  if (header_size > available) {
    return absl::DataLossError(absl::StrCat(path, ": header length ", header_size, " exceeds the ",
                                            available,
                                            " bytes after it (truncated or not safetensors)"));
  }
  if (header_size > kMaxSafetensorsHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header length ", header_size,
                                                   " exceeds the limit of ",
                                                   kMaxSafetensorsHeaderBytes, " bytes"));
  }
  absl::StatusOr<Json> json =
      ParseStrictJson(file.substr(kLengthPrefixBytes, header_size), absl::StrCat(path, ": header"));
  if (!json.ok()) return json.status();
  if (!json->is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": header is not a JSON object"));
  }

  SafetensorsHeader header;
  const uint64_t data_begin = kLengthPrefixBytes + header_size;
  for (const auto& item : json->items()) {
    if (item.key() == "__metadata__") {
      if (!item.value().is_object()) {
        return absl::DataLossError(absl::StrCat(path, ": __metadata__ is not a JSON object"));
      }
      for (const auto& meta : item.value().items()) {
        if (!meta.value().is_string()) {
          return absl::DataLossError(absl::StrCat(path, ": __metadata__ value of \"",
                                                  absl::Utf8SafeCHexEscape(meta.key()),
                                                  "\" is not a string"));
        }
        header.metadata.emplace(meta.key(), meta.value().get<std::string>());
      }
      continue;
    }
    absl::StatusOr<Entry> entry =
        EntryParser(path, item.key(), data_begin, file.size()).Parse(item.value());
    if (!entry.ok()) return entry.status();
    header.tensors.emplace(item.key(), *std::move(entry));
  }
  if (absl::Status status = CheckNoOverlap(header, path); !status.ok()) return status;
  return header;
}

}  // namespace liger
