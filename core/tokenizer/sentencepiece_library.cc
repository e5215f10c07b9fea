#include "core/tokenizer/sentencepiece_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#if defined(__SANITIZE_ADDRESS__)
#define LIGER_TOKENIZER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LIGER_TOKENIZER_ASAN 1
#endif
#endif

namespace liger {
namespace {

namespace fs = std::filesystem;

constexpr char kShimName[] = "libliger_sentencepiece.so";

#ifdef LIGER_TOKENIZER_ASAN
// AddressSanitizer refuses RTLD_DEEPBIND. Sanitizer builds run only the torch-free suites, which
// never load libprotobuf, so RTLD_LOCAL alone keeps sentencepiece's protobuf out of harm's way.
constexpr int kOpenFlags = RTLD_NOW | RTLD_LOCAL;
#else
constexpr int kOpenFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif

std::string DlError() {
  const char* error = dlerror();
  return error != nullptr ? error : "unknown error";
}

template <typename F>
absl::Status Resolve(void* handle, const std::string& path, const char* name, F* function) {
  dlerror();  // clears any stale error
  *function = reinterpret_cast<F>(dlsym(handle, name));
  if (*function == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("SentencePiece shim ", path, " lacks ", name, ": ", DlError()));
  }
  return absl::OkStatus();
}

std::vector<std::string> CandidatePaths() {
  if (const char* path = std::getenv("LIGER_SENTENCEPIECE_SHIM");
      path != nullptr && *path != '\0') {
    return {path};
  }
  std::vector<std::string> paths;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    for (const fs::path& candidate :
         {dir / kShimName, dir / "lib" / kShimName, dir / ".." / "lib" / "liger" / kShimName}) {
      paths.push_back(candidate.lexically_normal().string());
    }
  }
  paths.push_back(LIGER_SENTENCEPIECE_SHIM_BUILD_PATH);
  return paths;
}

absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> OpenDefault() {
  const std::vector<std::string> paths = CandidatePaths();
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::exists(path, ec)) return SentencePieceLibrary::Open(path);
  }
  return absl::FailedPreconditionError(
      absl::StrCat("SentencePiece shim ", kShimName, " not found (tried ",
                   absl::StrJoin(paths, ", "), "; set LIGER_SENTENCEPIECE_SHIM to its path)"));
}

}  // namespace

absl::StatusOr<const SentencePieceLibrary*> SentencePieceLibrary::Get() {
  // Never closed: processors may live in static objects until exit.
  static const auto* const library =
      new absl::StatusOr<std::unique_ptr<SentencePieceLibrary>>(OpenDefault());
  if (!library->ok()) return library->status();
  return library->value().get();
}

absl::StatusOr<std::unique_ptr<SentencePieceLibrary>> SentencePieceLibrary::Open(
    const std::string& path) {
  void* handle = dlopen(path.c_str(), kOpenFlags);
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load SentencePiece shim ", path, ": ", DlError()));
  }
  Api api;
  for (absl::Status s : {Resolve(handle, path, "liger_sp_create", &api.create),
                         Resolve(handle, path, "liger_sp_destroy", &api.destroy),
                         Resolve(handle, path, "liger_sp_free", &api.free),
                         Resolve(handle, path, "liger_sp_encode", &api.encode),
                         Resolve(handle, path, "liger_sp_decode", &api.decode),
                         Resolve(handle, path, "liger_sp_piece_size", &api.piece_size),
                         Resolve(handle, path, "liger_sp_piece_to_id", &api.piece_to_id),
                         Resolve(handle, path, "liger_sp_id_to_piece", &api.id_to_piece),
                         Resolve(handle, path, "liger_sp_is_control", &api.is_control),
                         Resolve(handle, path, "liger_sp_is_unknown", &api.is_unknown),
                         Resolve(handle, path, "liger_sp_bos_id", &api.bos_id),
                         Resolve(handle, path, "liger_sp_eos_id", &api.eos_id)}) {
    if (!s.ok()) {
      dlclose(handle);
      return s;
    }
  }
  return std::unique_ptr<SentencePieceLibrary>(new SentencePieceLibrary(handle, api));
}

SentencePieceLibrary::~SentencePieceLibrary() { dlclose(handle_); }

}  // namespace liger
