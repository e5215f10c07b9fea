#include "core/tokenizer/bpe_tokenizer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/tokenizer/byte_level_alphabet.h"
#include "core/tokenizer/json_fields.h"
#include "core/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace liger {
namespace {

using nlohmann::json;

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", what));
}

bool IsAbsent(const json& parent, const char* name) {
  return !parent.contains(name) || parent[name].is_null();
}

absl::StatusOr<bool> BoolField(const json& parent, const char* name, bool fallback) {
  return OptionalJsonBool(parent, name, fallback, "tokenizer.json: ");
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseMerges(const json& model) {
  std::vector<std::pair<std::string, std::string>> merges;
  if (IsAbsent(model, "merges")) return merges;
  if (!model["merges"].is_array()) return Invalid("model.merges must be an array");
  for (const json& item : model["merges"]) {
    if (item.is_string()) {
      // Legacy form "left right"; byte-level tokens never contain a space.
      const std::string line = item.get<std::string>();
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return Invalid(absl::StrCat("merge \"", line, "\" is not two tokens separated by a space"));
      }
      merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    } else if (item.is_array() && item.size() == 2 && item[0].is_string() && item[1].is_string()) {
      merges.emplace_back(item[0].get<std::string>(), item[1].get<std::string>());
    } else {
      return Invalid(absl::StrCat("merge ", item.dump(), " is neither \"a b\" nor [\"a\", \"b\"]"));
    }
  }
  return merges;
}

absl::StatusOr<BpeModel::Options> ParseModelOptions(const json& model) {
  if (!IsAbsent(model, "dropout") &&
      !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0)) {
    return Invalid("BPE dropout is not supported");
  }
  for (const char* name : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!IsAbsent(model, name) &&
        !(model[name].is_string() && model[name].get<std::string>().empty())) {
      return Invalid(absl::StrCat("BPE ", name, " is not supported"));
    }
  }
  absl::StatusOr<bool> byte_fallback = BoolField(model, "byte_fallback", false);
  if (!byte_fallback.ok()) return byte_fallback.status();
  if (*byte_fallback) return Invalid("byte_fallback must be false for a byte-level BPE model");
  BpeModel::Options options;
  absl::StatusOr<bool> ignore_merges = BoolField(model, "ignore_merges", false);
  if (!ignore_merges.ok()) return ignore_merges.status();
  options.ignore_merges = *ignore_merges;
  absl::StatusOr<bool> fuse_unk = BoolField(model, "fuse_unk", false);
  if (!fuse_unk.ok()) return fuse_unk.status();
  options.fuse_unk = *fuse_unk;
  if (!IsAbsent(model, "unk_token")) {
    if (!model["unk_token"].is_string()) return Invalid("model.unk_token must be a string");
    options.unk_token = model["unk_token"].get<std::string>();
  }
  return options;
}

struct ParsedAddedToken {
  AddedTokenSplitter::AddedToken token;
  bool special;
};

absl::StatusOr<std::vector<ParsedAddedToken>> ParseAddedTokens(const json& root) {
  std::vector<ParsedAddedToken> tokens;
  if (IsAbsent(root, "added_tokens")) return tokens;
  if (!root["added_tokens"].is_array()) return Invalid("added_tokens must be an array");
  for (const json& item : root["added_tokens"]) {
    if (!item.is_object() || !item.contains("id") || !item["id"].is_number_integer() ||
        !item.contains("content") || !item["content"].is_string()) {
      return Invalid(absl::StrCat("added token ", item.dump(), " needs an integer id and content"));
    }
    ParsedAddedToken parsed;
    const int64_t id = item["id"].get<int64_t>();
    if (id < 0 || id > INT32_MAX) {
      return Invalid(absl::StrCat("added token id ", id, " is invalid"));
    }
    parsed.token.id = static_cast<int32_t>(id);
    parsed.token.content = item["content"].get<std::string>();
    absl::StatusOr<bool> single_word = BoolField(item, "single_word", false);
    absl::StatusOr<bool> lstrip = BoolField(item, "lstrip", false);
    absl::StatusOr<bool> rstrip = BoolField(item, "rstrip", false);
    absl::StatusOr<bool> normalized = BoolField(item, "normalized", true);
    absl::StatusOr<bool> special = BoolField(item, "special", false);
    for (const auto* flag : {&single_word, &lstrip, &rstrip, &normalized, &special}) {
      if (!flag->ok()) return flag->status();
    }
    if (*single_word) {
      return Invalid(absl::StrCat("added token \"", parsed.token.content,
                                  "\": single_word=true is not supported"));
    }
    parsed.token.lstrip = *lstrip;
    parsed.token.rstrip = *rstrip;
    parsed.token.normalized = *normalized;
    parsed.special = *special;
    tokens.push_back(std::move(parsed));
  }
  return tokens;
}

absl::Status CheckDecoder(const json& decoder) {
  const std::string type = JsonTypeOf(decoder);
  if (type == "ByteLevel") return absl::OkStatus();
  if (type == "Sequence" && decoder.contains("decoders") && decoder["decoders"].is_array() &&
      decoder["decoders"].size() == 1) {
    return CheckDecoder(decoder["decoders"][0]);
  }
  return Invalid(absl::StrCat("unsupported decoder \"", type.empty() ? decoder.dump() : type,
                              "\" (only ByteLevel is supported)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (!content.ok()) return content.status();
  absl::StatusOr<std::unique_ptr<BpeTokenizer>> tokenizer = FromJson(*content);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(path, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromJson(
    std::string_view tokenizer_json) try {
  if (tokenizer_json.empty()) return Invalid("file is empty");
  const json root = json::parse(tokenizer_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Invalid("not valid JSON");
  if (!root.is_object()) return Invalid("expected a JSON object at the top level");
  if (IsAbsent(root, "model") || !root["model"].is_object()) return Invalid("missing \"model\"");
  const json& model = root["model"];
  if (JsonTypeOf(model) != "BPE") {
    return Invalid(absl::StrCat("unsupported model type \"", JsonTypeOf(model),
                                "\" (only BPE is supported)"));
  }
  if (!IsAbsent(root, "normalizer")) {
    const std::string type = JsonTypeOf(root["normalizer"]);
    return Invalid(absl::StrCat("unsupported normalizer \"",
                                type.empty() ? root["normalizer"].dump() : type,
                                "\" (only null is supported)"));
  }
  if (IsAbsent(root, "pre_tokenizer")) {
    return Invalid("pre_tokenizer is null (only byte-level BPE is supported)");
  }
  absl::StatusOr<ByteLevelPreTokenizer> pre_tokenizer =
      ByteLevelPreTokenizer::FromJson(root["pre_tokenizer"]);
  if (!pre_tokenizer.ok()) return Invalid(pre_tokenizer.status().message());
  if (IsAbsent(root, "decoder")) return Invalid("decoder is null (ByteLevel expected)");
  if (absl::Status s = CheckDecoder(root["decoder"]); !s.ok()) return s;

  absl::StatusOr<std::vector<ParsedAddedToken>> added = ParseAddedTokens(root);
  if (!added.ok()) return added.status();
  if (IsAbsent(model, "vocab") || !model["vocab"].is_object()) {
    return Invalid("model.vocab must be an object");
  }
  // Ids must fit the table that vocabulary and added tokens together can fill.
  const int64_t id_limit = static_cast<int64_t>(model["vocab"].size() + added->size());
  absl::flat_hash_map<std::string, int32_t> vocab;
  std::vector<std::optional<std::string>> tokens(id_limit);
  for (const auto& [token, value] : model["vocab"].items()) {
    if (!value.is_number_integer()) {
      return Invalid(absl::StrCat("vocab entry \"", token, "\" has a non-integer id"));
    }
    const int64_t id = value.get<int64_t>();
    if (id < 0 || id >= id_limit) {
      return Invalid(absl::StrCat("vocab entry \"", token, "\" has id ", id, ", outside [0, ",
                                  id_limit, ")"));
    }
    if (tokens[id]) {
      return Invalid(absl::StrCat("vocab id ", id, " is used by both \"", *tokens[id],
                                  "\" and \"", token, "\""));
    }
    tokens[id] = token;
    vocab.emplace(token, static_cast<int32_t>(id));
  }
  for (const ParsedAddedToken& a : *added) {
    if (a.token.id >= id_limit) {
      return Invalid(absl::StrCat("added token \"", a.token.content, "\" has id ", a.token.id,
                                  ", outside [0, ", id_limit, ")"));
    }
    tokens[a.token.id] = a.token.content;  // an added token overrides the model's entry
  }

  absl::StatusOr<BpeModel::Options> options = ParseModelOptions(model);
  if (!options.ok()) return options.status();
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> merges = ParseMerges(model);
  if (!merges.ok()) return merges.status();
  absl::StatusOr<std::unique_ptr<BpeModel>> bpe =
      BpeModel::Create(std::move(vocab), *merges, *options);
  if (!bpe.ok()) return Invalid(bpe.status().message());

  std::vector<AddedTokenSplitter::AddedToken> splitter_tokens;
  for (const ParsedAddedToken& a : *added) splitter_tokens.push_back(a.token);
  std::unique_ptr<BpeTokenizer> tokenizer(new BpeTokenizer(
      *std::move(bpe), *std::move(pre_tokenizer), std::move(splitter_tokens)));
  for (const ParsedAddedToken& a : *added) {
    tokenizer->added_ids_[a.token.content] = a.token.id;
    if (a.special) tokenizer->special_ids_.insert(a.token.id);
  }
  // Trailing ids that nothing uses do not count towards the vocabulary size.
  while (!tokens.empty() && !tokens.back()) tokens.pop_back();
  const ByteLevelAlphabet& alphabet = ByteLevelAlphabet::Get();
  tokenizer->token_bytes_.resize(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (!tokens[id]) continue;
    std::string bytes;
    // As the ByteLevel decoder does, a token with a character outside the alphabet is kept as is.
    if (!alphabet.Decode(*tokens[id], &bytes)) bytes = *tokens[id];
    tokenizer->token_bytes_[id] = std::move(bytes);
  }

  if (!IsAbsent(root, "post_processor")) {
    const json& pp = root["post_processor"];
    std::vector<const json*> processors;
    if (JsonTypeOf(pp) == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
      for (const json& p : pp["processors"]) processors.push_back(&p);
    } else {
      processors.push_back(&pp);
    }
    for (const json* p : processors) {
      const std::string type = JsonTypeOf(*p);
      if (type == "ByteLevel") continue;  // only adjusts offsets
      if (type != "TemplateProcessing") {
        return Invalid(absl::StrCat("unsupported post_processor \"",
                                    type.empty() ? p->dump() : type, "\""));
      }
      if (!p->contains("single") || !(*p)["single"].is_array()) {
        return Invalid("TemplateProcessing needs a \"single\" array");
      }
      const json special_tokens = p->value("special_tokens", json::object());
      tokenizer->template_prefix_.clear();
      tokenizer->template_suffix_.clear();
      int sequences = 0;
      for (const json& piece : (*p)["single"]) {
        if (piece.is_object() && piece.contains("Sequence")) {
          if (piece["Sequence"].value("id", "") != "A") {
            return Invalid("TemplateProcessing single template may only use sequence $A");
          }
          ++sequences;
          continue;
        }
        if (!piece.is_object() || !piece.contains("SpecialToken") ||
            !piece["SpecialToken"].is_object() || !piece["SpecialToken"].contains("id") ||
            !piece["SpecialToken"]["id"].is_string()) {
          return Invalid(absl::StrCat("unsupported template piece ", piece.dump()));
        }
        const std::string name = piece["SpecialToken"]["id"].get<std::string>();
        if (!special_tokens.is_object() || !special_tokens.contains(name) ||
            !special_tokens[name].is_object() || !special_tokens[name].contains("ids") ||
            !special_tokens[name]["ids"].is_array()) {
          return Invalid(absl::StrCat("template special token \"", name, "\" has no ids"));
        }
        for (const json& id : special_tokens[name]["ids"]) {
          if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
              id.get<int64_t>() >= static_cast<int64_t>(tokenizer->token_bytes_.size()) ||
              !tokenizer->token_bytes_[id.get<int64_t>()]) {
            return Invalid(absl::StrCat("template special token \"", name, "\" has invalid id ",
                                        id.dump()));
          }
          (sequences == 0 ? tokenizer->template_prefix_ : tokenizer->template_suffix_)
              .push_back(id.get<int32_t>());
        }
      }
      if (sequences != 1) return Invalid("TemplateProcessing single must contain $A once");
    }
  }
  if (!tokenizer->template_prefix_.empty()) tokenizer->bos_id_ = tokenizer->template_prefix_[0];
  if (!tokenizer->template_suffix_.empty()) {
    tokenizer->eos_id_ = tokenizer->template_suffix_.back();
  } else {
    for (const char* name : {"<|end_of_text|>", "</s>", "<|endoftext|>", "<|im_end|>"}) {
      auto it = tokenizer->added_ids_.find(name);
      if (it != tokenizer->added_ids_.end() && tokenizer->IsSpecial(it->second)) {
        tokenizer->eos_id_ = it->second;
        break;
      }
    }
  }
  return tokenizer;
} catch (const json::exception& e) {
  // Every access above is type-checked; this guards against a missed case.
  return Invalid(absl::StrCat("unexpected structure: ", e.what()));
}

absl::Status BpeTokenizer::ApplyConfig(const SpecialTokenConfig& config) {
  auto lookup = [&](const std::optional<std::string>& token, const char* field,
                    std::optional<int32_t>* id) -> absl::Status {
    if (!token) return absl::OkStatus();
    std::optional<int32_t> found = TokenToId(*token);
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer_config.json: ", field, " \"",
                                                     *token, "\" is not in the vocabulary"));
    }
    *id = found;
    return absl::OkStatus();
  };
  if (absl::Status s = lookup(config.bos_token, "bos_token", &bos_id_); !s.ok()) return s;
  if (absl::Status s = lookup(config.eos_token, "eos_token", &eos_id_); !s.ok()) return s;
  if (!config.add_bos_token && !config.add_eos_token) return absl::OkStatus();
  const bool add_bos = config.add_bos_token.value_or(false);
  const bool add_eos = config.add_eos_token.value_or(false);
  if ((add_bos && !bos_id_) || (add_eos && !eos_id_)) {
    return absl::InvalidArgumentError(
        "tokenizer_config.json: add_bos_token/add_eos_token set but the token is unknown");
  }
  template_prefix_.clear();
  template_suffix_.clear();
  if (add_bos) template_prefix_.push_back(*bos_id_);
  if (add_eos) template_suffix_.push_back(*eos_id_);
  return absl::OkStatus();
}

std::optional<int32_t> BpeTokenizer::TokenToId(std::string_view token) const {
  auto it = added_ids_.find(absl::string_view(token.data(), token.size()));
  if (it != added_ids_.end()) return it->second;
  return model_->TokenToId(token);
}

absl::StatusOr<std::vector<int32_t>> BpeTokenizer::Encode(std::string_view text,
                                                          bool add_special_tokens) const {
  std::vector<char32_t> cps;
  std::vector<size_t> offsets;
  if (!DecodeUtf8(text, &cps, &offsets)) {
    return absl::InvalidArgumentError("text to encode is not valid UTF-8");
  }
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = template_prefix_;
  std::vector<std::string> pieces;
  for (const AddedTokenSplitter::Segment& segment : splitter_.Split(text)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    pieces.clear();
    pre_tokenizer_.Split(segment.text, &pieces);
    for (const std::string& piece : pieces) model_->Tokenize(piece, &ids);
  }
  if (add_special_tokens) ids.insert(ids.end(), template_suffix_.begin(), template_suffix_.end());
  return ids;
}

absl::StatusOr<std::string> BpeTokenizer::Decode(absl::Span<const int32_t> ids,
                                                 bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || !token_bytes_[id]) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is not in the vocabulary (size ", vocab_size(), ")"));
    }
    if (skip_special_tokens && IsSpecial(id)) continue;
    bytes += *token_bytes_[id];
  }
  return Utf8Lossy(bytes);
}

}  // namespace liger
