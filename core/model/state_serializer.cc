#include "core/model/state_serializer.h"

#include <algorithm>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/io/strict_json.h"
#include "core/io/crc32c.h"
#include "core/io/little_endian.h"
#include "core/model/tensor_conversion.h"
#include "core/model/transformer_state.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

using Json = nlohmann::json;

// magic + version + header length before the header; the checksum after the data.
constexpr size_t kStatePrefixBytes = 8 + 4 + 4;
constexpr size_t kStateChecksumBytes = 4;
// Far beyond any real header (about 200 bytes a layer), small enough to parse without worry.
constexpr uint32_t kMaxStateHeaderBytes = 1 << 20;
// Caps what a header may declare, so a hostile one cannot make parsing itself expensive.
constexpr size_t kMaxStateTensorsPerLayer = 16;
constexpr size_t kMaxStateIntegersPerLayer = 16;
constexpr size_t kMaxStateTensorDims = 8;
constexpr size_t kMaxStateNameBytes = 64;
// No real sequence comes near this; it keeps positions far from int64 overflow.
constexpr int64_t kMaxStateTokens = int64_t{1} << 40;

// What fixes a state's shape and meaning (see the format comment in the header).
Json StateFingerprint(const ModelConfig& c) {
  Json f = {{"model_type", c.model_type},
            {"num_hidden_layers", c.num_hidden_layers},
            {"hidden_size", c.hidden_size},
            {"vocab_size", c.vocab_size},
            {"num_attention_heads", c.num_attention_heads},
            {"num_key_value_heads", c.num_key_value_heads},
            {"head_dim", c.head_dim},
            {"rope",
             {{"theta", c.rope.theta},
              {"type", c.rope.type},
              {"factor", c.rope.factor},
              {"low_freq_factor", c.rope.low_freq_factor},
              {"high_freq_factor", c.rope.high_freq_factor},
              {"original_max_position_embeddings", c.rope.original_max_position_embeddings}}},
            {"sliding_window", c.sliding_window ? Json(*c.sliding_window) : Json()},
            {"liger", Json()}};
  if (c.liger) {
    f["liger"] = {{"variant", c.liger->variant},
                  {"window", c.liger->window},
                  {"gsa_slots", c.liger->gsa_slots},
                  {"softmax_layers", c.liger->softmax_layers},
                  {"mix", c.liger->mix},
                  {"gate_normalizer", c.liger->gate_normalizer}};
  }
  return f;
}

// A short rendering of a header value for messages; nested values (which no fingerprint field
// holds) are only named, so a hostile header cannot make the message huge or deep.
std::string DescribeStateJson(const Json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) {
    for (const Json& e : v) {
      if (e.is_structured()) return "a nested list";
    }
  }
  std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

// Compares two levels deep (the fingerprint's depth), naming every field that differs.
void DiffFingerprints(const Json& saved, const Json& model, const std::string& prefix,
                      std::vector<std::string>& diffs) {
  for (const auto& [key, expected] : model.items()) {
    const std::string name = prefix + key;
    auto it = saved.find(key);
    if (it == saved.end()) {
      diffs.push_back(absl::StrCat(name, " (absent in the state, ", DescribeStateJson(expected),
                                   " in this model)"));
    } else if (expected.is_object() && it->is_object() && prefix.empty()) {
      DiffFingerprints(*it, expected, name + ".", diffs);
    } else if (*it != expected) {
      diffs.push_back(absl::StrCat(name, " (state ", DescribeStateJson(*it), ", this model ",
                                   DescribeStateJson(expected), ")"));
    }
  }
  for (const auto& [key, value] : saved.items()) {
    if (!model.contains(key)) {
      diffs.push_back(absl::StrCat(prefix, key, " (", DescribeStateJson(value),
                                   " in the state, unknown to this model)"));
    }
  }
}

absl::Status CheckStateFingerprint(const Json& header, const ModelConfig& config) {
  auto it = header.find("model");
  if (it == header.end() || !it->is_object()) {
    return absl::DataLossError("session state header has no model fingerprint");
  }
  std::vector<std::string> diffs;
  DiffFingerprints(*it, StateFingerprint(config), "", diffs);
  if (diffs.empty()) return absl::OkStatus();
  constexpr size_t kMaxListedDiffs = 8;
  const size_t more = diffs.size() > kMaxListedDiffs ? diffs.size() - kMaxListedDiffs : 0;
  diffs.resize(diffs.size() - more);
  return absl::FailedPreconditionError(
      absl::StrCat("session state was saved from a different model: ", absl::StrJoin(diffs, "; "),
                   more > 0 ? absl::StrCat("; and ", more, " more") : ""));
}

// A non-negative integer field no larger than `max`.
absl::StatusOr<int64_t> GetStateCount(const Json& v, int64_t max, absl::string_view what) {
  if (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(max)) {
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= max) {
    return v.get<int64_t>();
  }
  return absl::DataLossError(
      absl::StrCat("session state ", what, " is not an integer in [0, ", max, "]"));
}

// One tensor's place in the data section, checked against the bytes present.
struct StateTensorSlot {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  size_t offset = 0;
  size_t nbytes = 0;
};

struct StateLayerSlots {
  std::vector<StateTensorSlot> tensors;
  std::vector<std::pair<std::string, int64_t>> integers;
};

absl::StatusOr<StateTensorSlot> ParseStateTensorSlot(const Json& spec, const std::string& where,
                                                     size_t offset, size_t data_bytes) {
  if (!spec.is_object()) return absl::DataLossError(absl::StrCat(where, " is not an object"));
  auto name = spec.find("name");
  auto dtype = spec.find("dtype");
  auto shape = spec.find("shape");
  if (spec.size() != 3 || name == spec.end() || !name->is_string() || dtype == spec.end() ||
      !dtype->is_string() || shape == spec.end() || !shape->is_array()) {
    return absl::DataLossError(absl::StrCat(where, " must hold exactly name, dtype and shape"));
  }
  StateTensorSlot slot;
  slot.name = name->get<std::string>();
  if (slot.name.size() > kMaxStateNameBytes) {
    return absl::DataLossError(
        absl::StrCat(where, " has a name over ", kMaxStateNameBytes, " bytes"));
  }
  auto parsed = DTypeFromName(dtype->get<std::string>());
  if (!parsed.ok() ||
      (*parsed != DType::kFloat32 && *parsed != DType::kBFloat16 && *parsed != DType::kFloat16)) {
    return absl::DataLossError(
        absl::StrCat(where, " has dtype ", DescribeStateJson(*dtype), ", not F32, BF16 or F16"));
  }
  slot.dtype = *parsed;
  if (shape->size() > kMaxStateTensorDims) {
    return absl::DataLossError(
        absl::StrCat(where, " has more than ", kMaxStateTensorDims, " dims"));
  }
  // Sizes are bounded by the bytes left before multiplying, so nothing overflows and nothing
  // larger than the input is ever allocated.
  const size_t available = data_bytes - offset;
  bool empty = false;
  for (const Json& dim : *shape) {
    LIGER_ASSIGN_OR_RETURN(int64_t d, GetStateCount(dim, std::numeric_limits<int64_t>::max(),
                                                    absl::StrCat(where, " dimension")));
    slot.shape.push_back(d);
    empty = empty || d == 0;
  }
  size_t nbytes = empty ? 0 : DTypeSize(slot.dtype);
  for (int64_t d : slot.shape) {
    if (empty) break;
    if (static_cast<uint64_t>(d) > available / nbytes) {
      return absl::DataLossError(absl::StrCat(where, " of shape [", absl::StrJoin(slot.shape, ", "),
                                              "] needs more than the ", available,
                                              " data bytes left"));
    }
    nbytes *= static_cast<size_t>(d);
  }
  if (nbytes > available) {  // a 0-d tensor skips the loop
    return absl::DataLossError(
        absl::StrCat(where, " needs more than the ", available, " data bytes left"));
  }
  slot.offset = offset;
  slot.nbytes = nbytes;
  return slot;
}

absl::StatusOr<StateLayerSlots> ParseStateLayer(const Json& layer, size_t index,
                                                absl::string_view kind, size_t& offset,
                                                size_t data_bytes) {
  const std::string where = absl::StrCat("session state layer ", index);
  if (!layer.is_object()) return absl::DataLossError(absl::StrCat(where, " is not an object"));
  auto saved_kind = layer.find("kind");
  auto integers = layer.find("integers");
  auto tensors = layer.find("tensors");
  if (layer.size() != 3 || saved_kind == layer.end() || !saved_kind->is_string() ||
      integers == layer.end() || !integers->is_object() || tensors == layer.end() ||
      !tensors->is_array()) {
    return absl::DataLossError(
        absl::StrCat(where, " must hold exactly kind, integers and tensors"));
  }
  // The fingerprint matched, so a different kind means the header is damaged, not the model.
  if (saved_kind->get_ref<const std::string&>() != kind) {
    return absl::DataLossError(absl::StrCat(where, " is a ", DescribeStateJson(*saved_kind),
                                            " state but this model's layer holds \"", kind, "\""));
  }
  if (integers->size() > kMaxStateIntegersPerLayer || tensors->size() > kMaxStateTensorsPerLayer) {
    return absl::DataLossError(absl::StrCat(where, " lists too many integers or tensors"));
  }
  StateLayerSlots slots;
  for (const auto& [name, value] : integers->items()) {
    if (name.size() > kMaxStateNameBytes || !value.is_number_integer()) {
      return absl::DataLossError(
          absl::StrCat(where, " has an integer field that is not a short name and an integer"));
    }
    if (value.is_number_unsigned() &&
        value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::DataLossError(absl::StrCat(where, " integer ", name, " is out of range"));
    }
    slots.integers.emplace_back(name, value.get<int64_t>());
  }
  for (size_t i = 0; i < tensors->size(); ++i) {
    LIGER_ASSIGN_OR_RETURN(StateTensorSlot slot,
                           ParseStateTensorSlot((*tensors)[i], absl::StrCat(where, " tensor ", i),
                                                offset, data_bytes));
    offset += slot.nbytes;
    slots.tensors.push_back(std::move(slot));
  }
  return slots;
}

absl::StatusOr<std::string> SerializeTransformerState(const Transformer& model,
                                                      const TransformerState& state) {
  // Header first, from tensor metadata alone; then the data one tensor at a time, so a GPU state
  // is never copied to the host whole on top of the output.
  std::vector<torch::Tensor> tensors;
  Json layers = Json::array();
  for (size_t i = 0; i < state.num_layers(); ++i) {
    const LayerState& layer = state.layer(i);
    if (layer.tokens() != state.tokens()) {
      return absl::FailedPreconditionError(absl::StrCat("layer ", i, " has seen ", layer.tokens(),
                                                        " tokens but the state ", state.tokens(),
                                                        ": a failed call left it inconsistent"));
    }
    LayerStateContents contents = layer.Export();
    Json specs = Json::array();
    for (auto& [name, tensor] : contents.tensors) {
      LIGER_ASSIGN_OR_RETURN(DType dtype, FromTorchDType(tensor.scalar_type()));
      specs.push_back({{"name", name},
                       {"dtype", std::string(DTypeName(dtype))},
                       {"shape", tensor.sizes().vec()}});
      tensors.push_back(std::move(tensor));
    }
    Json integers = Json::object();
    for (const auto& [name, value] : contents.integers) integers[name] = value;
    layers.push_back(
        {{"kind", std::string(layer.kind())}, {"integers", integers}, {"tensors", specs}});
  }
  const Json header = {{"model", StateFingerprint(model.config())},
                       {"tokens", state.tokens()},
                       {"layers", std::move(layers)}};
  const std::string header_text = header.dump();
  if (header_text.size() > kMaxStateHeaderBytes) {
    return absl::FailedPreconditionError("session state header is too large to save");
  }
  size_t total = kStatePrefixBytes + header_text.size() + kStateChecksumBytes;
  for (const torch::Tensor& t : tensors) total += t.nbytes();
  std::string out;
  out.reserve(total);
  out.append(kStateMagic.data(), kStateMagic.size());
  AppendLittleEndianU32(out, kStateFormatVersion);
  AppendLittleEndianU32(out, static_cast<uint32_t>(header_text.size()));
  out += header_text;
  for (const torch::Tensor& t : tensors) {
    if (t.numel() == 0) continue;
    torch::Tensor host = t.to(torch::kCPU).contiguous();
    out.append(static_cast<const char*>(host.data_ptr()), host.nbytes());
  }
  AppendLittleEndianU32(out, Crc32c(out));
  return out;
}

absl::StatusOr<std::unique_ptr<ModelState>> RestoreTransformerState(const Transformer& model,
                                                                    absl::string_view bytes) {
  const size_t magic_seen = std::min(bytes.size(), kStateMagic.size());
  if (bytes.substr(0, magic_seen) != kStateMagic.substr(0, magic_seen)) {
    return absl::InvalidArgumentError("not a liger session state (wrong magic bytes)");
  }
  if (bytes.size() < kStatePrefixBytes + kStateChecksumBytes) {
    return absl::DataLossError(
        absl::StrCat("session state is truncated: ", bytes.size(), " bytes"));
  }
  const size_t body_end = bytes.size() - kStateChecksumBytes;
  const uint32_t stored = LoadLittleEndianU32(bytes, body_end);
  const uint32_t actual = Crc32c(bytes.substr(0, body_end));
  if (stored != actual) {
    return absl::DataLossError(absl::StrCat("session state checksum mismatch (stored ", stored,
                                            ", computed ", actual, "): corrupt or truncated"));
  }
  const uint32_t version = LoadLittleEndianU32(bytes, kStateMagic.size());
  if (version > kStateFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("session state has format version ", version, "; this build reads up to ",
                     kStateFormatVersion, " (upgrade liger to restore it)"));
  }
  if (version == 1) {
    return absl::FailedPreconditionError(
        "session state has format version 1, whose recurrent memories are per query head; this "
        "build keeps them per KV head (version 2) and cannot convert them: start the session again");
  }
  if (version != kStateFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("session state has unknown format version ", version));
  }
  const uint32_t header_bytes = LoadLittleEndianU32(bytes, kStateMagic.size() + 4);
  if (header_bytes > kMaxStateHeaderBytes || header_bytes > body_end - kStatePrefixBytes) {
    return absl::DataLossError(absl::StrCat("session state header length ", header_bytes,
                                            " exceeds the ", body_end - kStatePrefixBytes,
                                            " bytes present"));
  }
  const absl::string_view header_text = bytes.substr(kStatePrefixBytes, header_bytes);
  LIGER_ASSIGN_OR_RETURN(Json header,
                         ParseStrictJson(std::string_view(header_text.data(), header_text.size()),
                                         "session state header"));
  if (!header.is_object() || header.size() != 3 || !header.contains("tokens") ||
      !header.contains("layers")) {
    return absl::DataLossError("session state header must hold exactly model, tokens and layers");
  }
  LIGER_RETURN_IF_ERROR(CheckStateFingerprint(header, model.config()));
  LIGER_ASSIGN_OR_RETURN(int64_t tokens,
                         GetStateCount(header["tokens"], kMaxStateTokens, "tokens"));

  std::unique_ptr<ModelState> restored = model.NewState();
  auto& state = static_cast<TransformerState&>(*restored);
  const Json& layers = header["layers"];
  if (!layers.is_array() || layers.size() != state.num_layers()) {
    return absl::DataLossError(
        absl::StrCat("session state header must list ", state.num_layers(), " layers"));
  }
  // Every slot is checked against the data before any tensor is made.
  const absl::string_view data =
      bytes.substr(kStatePrefixBytes + header_bytes, body_end - kStatePrefixBytes - header_bytes);
  size_t offset = 0;
  std::vector<StateLayerSlots> slots;
  for (size_t i = 0; i < layers.size(); ++i) {
    LIGER_ASSIGN_OR_RETURN(
        StateLayerSlots layer,
        ParseStateLayer(layers[i], i, state.layer(i).kind(), offset, data.size()));
    slots.push_back(std::move(layer));
  }
  if (offset != data.size()) {
    return absl::DataLossError(absl::StrCat("session state holds ", data.size(),
                                            " data bytes but its header accounts for ", offset));
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    LayerStateContents contents;
    contents.integers = std::move(slots[i].integers);
    for (const StateTensorSlot& slot : slots[i].tensors) {
      TensorView view;
      view.dtype = slot.dtype;
      view.shape = slot.shape;
      view.data = data.data() + slot.offset;
      view.nbytes = slot.nbytes;
      LIGER_ASSIGN_OR_RETURN(torch::Tensor tensor, ToTensor(view));
      contents.tensors.emplace_back(slot.name, std::move(tensor));
    }
    absl::Status imported = state.layer(i).Import(std::move(contents), tokens);
    if (!imported.ok()) {
      return absl::Status(imported.code(),
                          absl::StrCat("session state layer ", i, ": ", imported.message()));
    }
  }
  state.Advance(tokens);
  return restored;
}

}  // namespace

absl::StatusOr<std::string> SerializeState(const Transformer& model, const ModelState& state) {
  const auto* transformer_state = dynamic_cast<const TransformerState*>(&state);
  if (transformer_state == nullptr ||
      static_cast<int64_t>(transformer_state->num_layers()) != model.config().num_hidden_layers) {
    return absl::InvalidArgumentError("state was not made by this model's NewState()");
  }
  try {
    return SerializeTransformerState(model, *transformer_state);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("saving session state failed: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<std::unique_ptr<ModelState>> RestoreState(const Transformer& model,
                                                         absl::string_view bytes) {
  try {
    return RestoreTransformerState(model, bytes);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("restoring session state failed: ", e.what_without_backtrace()));
  }
}

}  // namespace liger
