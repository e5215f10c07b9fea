#include "core/train/process_group_collectives.h"

#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>

#ifdef LIGER_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LIGER_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <exception>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace liger {

class ProcessGroupCollectives::Rendezvous {
 public:
  explicit Rendezvous(std::chrono::seconds timeout) : store(c10::make_intrusive<c10d::HashStore>()) {
    store->setTimeout(timeout);
  }
  c10::intrusive_ptr<c10d::Store> store;
};

// The c10d process group behind a ProcessGroupCollectives; c10d's class hierarchy differs between
// LibTorch 1.13 (ProcessGroup) and 2.x (Backend), so each backend class is wrapped as it is.
class ProcessGroupCollectives::Backend {
 public:
  virtual ~Backend() = default;
  virtual std::unique_ptr<CollectiveWork> AllReduceSum(torch::Tensor tensor) = 0;
  // c10d reads several tensors in one call as copies on several devices: one tensor per call.
  virtual std::unique_ptr<CollectiveWork> Broadcast(torch::Tensor tensor) = 0;
};

namespace {

// c10d reports failures as exceptions: a lost peer as a connection error, a silent one as a
// timeout.
absl::Status CollectiveError(const char* what, const std::exception& e) {
  std::string message = e.what();
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) {
    message = error->what_without_backtrace();
  }
  const std::string text = absl::StrCat(what, " failed: ", message);
  const std::string lower = absl::AsciiStrToLower(message);
  if (absl::StrContains(lower, "timed out") || absl::StrContains(lower, "timeout")) {
    return absl::DeadlineExceededError(text);
  }
  return absl::UnavailableError(text);
}

template <typename WorkPtr>
class C10dWork final : public CollectiveWork {
 public:
  explicit C10dWork(WorkPtr work) : work_(std::move(work)) {}
  absl::Status Wait() override {
    try {
      work_->wait();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return CollectiveError("all-reduce", e);
    }
  }

 private:
  WorkPtr work_;
};

template <typename Group>
class C10dBackend final : public ProcessGroupCollectives::Backend {
 public:
  explicit C10dBackend(c10::intrusive_ptr<Group> group) : group_(std::move(group)) {}

  std::unique_ptr<CollectiveWork> AllReduceSum(torch::Tensor tensor) override {
    std::vector<torch::Tensor> tensors = {std::move(tensor)};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    auto work = group_->allreduce(tensors, options);
    return std::make_unique<C10dWork<decltype(work)>>(std::move(work));
  }

  std::unique_ptr<CollectiveWork> Broadcast(torch::Tensor tensor) override {
    std::vector<torch::Tensor> tensors = {std::move(tensor)};
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    auto work = group_->broadcast(tensors, options);
    return std::make_unique<C10dWork<decltype(work)>>(std::move(work));
  }

 private:
  c10::intrusive_ptr<Group> group_;
};

// A backend for `device` over `store`, or why there is none.
absl::StatusOr<std::unique_ptr<ProcessGroupCollectives::Backend>> NewBackend(
    const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size, torch::Device device,
    std::chrono::milliseconds timeout, const std::string& gloo_host) {
  if (device.is_cpu()) {
#ifdef LIGER_WITH_GLOO
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
    if (interface != nullptr && *interface != '\0') {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    } else if (!gloo_host.empty()) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(gloo_host));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    options->threads = 2;
    return std::make_unique<C10dBackend<c10d::ProcessGroupGloo>>(
        c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options));
#endif
  } else if (device.is_cuda()) {
#ifdef LIGER_WITH_NCCL
    c10::cuda::set_device(device.index());
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    return std::make_unique<C10dBackend<c10d::ProcessGroupNCCL>>(
        c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options));
#endif
  }
  return absl::UnimplementedError(absl::StrCat("this build of liger has no collective backend for ",
                                               device.str(), " (Gloo serves the CPU, NCCL CUDA)"));
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || absl::StartsWith(host, "127.") || host == "::1";
}

}  // namespace

std::shared_ptr<ProcessGroupCollectives::Rendezvous> ProcessGroupCollectives::NewRendezvous(
    std::chrono::seconds timeout) {
  return std::make_shared<Rendezvous>(timeout);
}

bool ProcessGroupCollectives::Supports(torch::Device device) {
#ifdef LIGER_WITH_GLOO
  if (device.is_cpu()) return true;
#endif
#ifdef LIGER_WITH_NCCL
  if (device.is_cuda()) return true;
#endif
  return false;
}

ProcessGroupCollectives::ProcessGroupCollectives(std::unique_ptr<Backend> backend, int rank,
                                                 int world_size, torch::Device device)
    : backend_(std::move(backend)), rank_(rank), world_size_(world_size), device_(device) {}

ProcessGroupCollectives::~ProcessGroupCollectives() = default;

absl::StatusOr<std::unique_ptr<CollectiveGroup>> ProcessGroupCollectives::Join(
    const DistributedEnvironment& env, torch::Device device) {
  const std::chrono::milliseconds timeout(int64_t{env.timeout_seconds} * 1000);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0 && !env.agent_store;
    store_options.numWorkers = env.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    // On one host (MASTER_ADDR a loopback address) Gloo's pairs stay on the loopback too.
    const std::string gloo_host = IsLoopback(env.master_addr) ? env.master_addr : "";
    LIGER_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend,
                           NewBackend(store, env.rank, env.world_size, device, timeout, gloo_host));
    return std::unique_ptr<CollectiveGroup>(
        new ProcessGroupCollectives(std::move(backend), env.rank, env.world_size, device));
  } catch (const std::exception& e) {
    return CollectiveError(absl::StrCat("joining the run at ", env.master_addr, ":",
                                        env.master_port, " as rank ", env.rank, " of ",
                                        env.world_size)
                               .c_str(),
                           e);
  }
}

absl::StatusOr<std::unique_ptr<CollectiveGroup>> ProcessGroupCollectives::JoinInProcess(
    std::shared_ptr<Rendezvous> rendezvous, int rank, int world_size, torch::Device device,
    std::chrono::seconds timeout) {
  try {
    LIGER_ASSIGN_OR_RETURN(
        std::unique_ptr<Backend> backend,
        NewBackend(rendezvous->store, rank, world_size, device, timeout, "127.0.0.1"));
    return std::unique_ptr<CollectiveGroup>(
        new ProcessGroupCollectives(std::move(backend), rank, world_size, device));
  } catch (const std::exception& e) {
    return CollectiveError(absl::StrCat("joining as rank ", rank, " of ", world_size).c_str(), e);
  }
}

absl::StatusOr<std::unique_ptr<CollectiveWork>> ProcessGroupCollectives::StartAllReduceSum(
    torch::Tensor tensor) {
  try {
    return backend_->AllReduceSum(std::move(tensor));
  } catch (const std::exception& e) {
    return CollectiveError("all-reduce", e);
  }
}

absl::Status ProcessGroupCollectives::Broadcast(std::vector<torch::Tensor> tensors) {
  std::vector<std::unique_ptr<CollectiveWork>> works;
  try {
    for (torch::Tensor& tensor : tensors) works.push_back(backend_->Broadcast(tensor));
  } catch (const std::exception& e) {
    return CollectiveError("broadcast", e);
  }
  for (auto& work : works) LIGER_RETURN_IF_ERROR(work->Wait());
  return absl::OkStatus();
}

}  // namespace liger
