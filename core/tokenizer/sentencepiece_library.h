#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/tokenizer/sentencepiece_shim.h"

namespace liger {

// libliger_sentencepiece.so (sentencepiece_shim.h), opened with dlopen. libsentencepiece embeds
// and exports an old protobuf-lite; linked into a process that also holds libprotobuf (LibTorch,
// gRPC), symbol interposition crashes protobuf's static initialisers before main. Opened
// RTLD_LOCAL | RTLD_DEEPBIND, the shim keeps those symbols out of the global scope and
// libsentencepiece's protobuf calls bound to its own copy.
class SentencePieceLibrary {
 public:
  // The shim's functions, all resolved when the library is opened.
  struct Api {
    decltype(&liger_sp_create) create;
    decltype(&liger_sp_destroy) destroy;
    decltype(&liger_sp_free) free;
    decltype(&liger_sp_encode) encode;
    decltype(&liger_sp_decode) decode;
    decltype(&liger_sp_piece_size) piece_size;
    decltype(&liger_sp_piece_to_id) piece_to_id;
    decltype(&liger_sp_id_to_piece) id_to_piece;
    decltype(&liger_sp_is_control) is_control;
    decltype(&liger_sp_is_unknown) is_unknown;
    decltype(&liger_sp_bos_id) bos_id;
    decltype(&liger_sp_eos_id) eos_id;
  };

  // The process-wide shim, opened on first use from the first of these that exists: the path in
  // $LIGER_SENTENCEPIECE_SHIM alone when it is set; otherwise libliger_sentencepiece.so in the
  // executable's directory, its lib/, its ../lib/liger/, then the build tree's lib/.
  // FAILED_PRECONDITION naming the paths tried if none exists or it cannot be opened. Thread-safe;
  // later calls return the first call's result.
  static absl::StatusOr<const SentencePieceLibrary*> Get();
  // Opens the shim at path; FAILED_PRECONDITION if dlopen or resolving a function fails.
  static absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> Open(const std::string& path);
  ~SentencePieceLibrary();

  SentencePieceLibrary(const SentencePieceLibrary&) = delete;
  SentencePieceLibrary& operator=(const SentencePieceLibrary&) = delete;

  const Api& api() const { return api_; }

 private:
  SentencePieceLibrary(void* handle, const Api& api) : handle_(handle), api_(api) {}

  void* handle_;  // from dlopen
  Api api_;
};

}  // namespace liger
