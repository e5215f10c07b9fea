// Times ConvertCheckpoint on a random checkpoint shaped like Llama-3.2-1B (~2.5 GB of bf16), read
// cold from disk: the benchmark writes it under $TMPDIR (or /tmp) first and removes it at exit.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/convert/synthetic_checkpoint.h"
#include "benchmark/benchmark.h"
#include "core/convert/converter.h"

namespace liger {
namespace {

// The input and one output must fit, with room to spare for the rest of the machine.
constexpr uint64_t kConvertBenchFreeBytes = uint64_t{6} << 30;

std::string g_model_dir;

// Evicts the (already synced) input from the page cache so each conversion reads it from disk.
void DropFromPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

void BM_ConvertCheckpoint(benchmark::State& state) {
  const std::string out = g_model_dir + "-converted";
  double seconds = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    DropFromPageCache(g_model_dir + "/model.safetensors");
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<ConversionResult> result =
        ConvertCheckpoint(g_model_dir, out, ConversionOptions());
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      break;
    }
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    bytes += result->bytes_written;
    std::filesystem::remove_all(out);
  }
  if (seconds > 0) {
    state.counters["GB"] = static_cast<double>(bytes) / 1e9 / static_cast<double>(state.iterations());
    state.counters["GB/s"] = static_cast<double>(bytes) / 1e9 / seconds;
  }
}
BENCHMARK(BM_ConvertCheckpoint)->UseManualTime()->Unit(benchmark::kSecond)->Iterations(1);

int RunConvertBenchmark(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const char* tmp = std::getenv("TMPDIR");
  std::string work = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                   "/liger-convert-bench-XXXXXX");
  if (::mkdtemp(work.data()) == nullptr) {
    std::perror(work.c_str());
    return 1;
  }
  struct statvfs fs;
  if (::statvfs(work.c_str(), &fs) != 0 ||
      static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < kConvertBenchFreeBytes) {
    std::fprintf(stderr, "convert_benchmark: %s needs %llu GiB free\n", work.c_str(),
                 static_cast<unsigned long long>(kConvertBenchFreeBytes >> 30));
    std::filesystem::remove_all(work);
    return 1;
  }
  g_model_dir = work + "/model";
  std::filesystem::create_directory(g_model_dir);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<uint64_t> written = WriteSyntheticLlamaCheckpoint(g_model_dir, {});
  int rc = 1;
  if (!written.ok()) {
    std::fprintf(stderr, "convert_benchmark: %s\n", std::string(written.status().message()).c_str());
  } else {
    std::fprintf(stderr, "wrote a Llama-3.2-1B-shaped checkpoint (%.2f GB) in %.1f s\n",
                 static_cast<double>(*written) / 1e9,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    benchmark::RunSpecifiedBenchmarks();
    rc = 0;
  }
  benchmark::Shutdown();
  std::filesystem::remove_all(work);
  return rc;
}

}  // namespace
}  // namespace liger

int main(int argc, char** argv) { return liger::RunConvertBenchmark(argc, argv); }
