#include "core/model/ops/fused_key_gated_recurrence.h"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "core/model/ops/gated_linear_attention.h"
#include "tests/core/model/ops/naive_reference.h"
#include "tests/core/model/ops/test_inputs.h"

namespace liger::testing {
namespace {

// Awkward on purpose: B*H = 15 blocks per chunk, lengths around the chunk sizes (16 and 32).
constexpr int64_t kB = 3, kH = 5;

struct Inputs {
  torch::Tensor q, k, v, g, state;
};

// q has h heads; k, v, the gates and the state kv heads (h by default).
Inputs MakeInputs(int64_t t, int64_t d, GateKind kind, int64_t b = kB, int64_t h = kH,
                  int64_t kv = 0) {
  const torch::Device cuda(torch::kCUDA);
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(cuda);
  if (kv == 0) kv = h;
  return {SoftmaxFeatures({b, h, t, d}, cuda), SoftmaxFeatures({b, kv, t, d}, cuda),
          torch::randn({b, kv, t, d}, options), MakeLogGate({b, kv, t, d}, kind, cuda),
          torch::randn({b, kv, d, d}, options)};
}

class FusedKeyGatedRecurrenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  }
};

TEST_F(FusedKeyGatedRecurrenceTest, MatchesNaiveLoop) {
  torch::manual_seed(1);
  double worst = 0;
  for (int64_t d : {32, 64, 128}) {
    for (GateKind kind : AllGateKinds()) {
      for (int64_t t : {1, 15, 16, 17, 33, 100, 1000}) {
        for (bool with_state : {true, false}) {
          SCOPED_TRACE(absl::StrCat("D=", d, " gates=", GateKindName(kind), " T=", t,
                                    " state=", with_state));
          const Inputs in = MakeInputs(t, d, kind);
          const torch::Tensor state = with_state ? in.state : torch::Tensor();
          ASSERT_TRUE(FusedKeyGatedRecurrenceApplies(in.q, in.k, in.v, in.g));
          const auto got = FusedKeyGatedRecurrence(in.q, in.k, in.v, in.g, state);
          ASSERT_TRUE(got.ok()) << got.status();
          const auto want = NaiveGatedRecurrence(in.q, in.k, in.v, in.g, state, false);
          const double err = std::max(RelativeError(got->output, want.output),
                                      RelativeError(got->final_state, want.final_state));
          EXPECT_LE(err, 1e-5);
          worst = std::max(worst, err);
        }
      }
    }
  }
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

// The ATen chunked path is the reference: its own gradients are checked against a float64
// token-by-token autograd reference in the recurrence suite.
TEST_F(FusedKeyGatedRecurrenceTest, GradientsMatchAtenPath) {
  torch::manual_seed(2);
  double worst = 0;
  for (int64_t d : {32, 64, 128}) {
    for (GateKind kind : {GateKind::kRealistic, GateKind::kHarsh, GateKind::kMixed}) {
      for (int64_t t : {1, 31, 70, 300}) {
        SCOPED_TRACE(absl::StrCat("D=", d, " gates=", GateKindName(kind), " T=", t));
        const Inputs in = MakeInputs(t, d, kind);
        const torch::Tensor out_weight = torch::randn_like(in.v);
        const torch::Tensor state_weight = torch::randn_like(in.state);
        auto gradients = [&](bool fused) {
          std::vector<torch::Tensor> leaves;
          for (const torch::Tensor& x : {in.q, in.k, in.v, in.g, in.state}) {
            leaves.push_back(x.clone().requires_grad_());
          }
          const auto r = fused ? FusedKeyGatedRecurrence(leaves[0], leaves[1], leaves[2], leaves[3],
                                                         leaves[4])
                               : RunChunkedRecurrence("aten", GateDim::kKey, leaves[0], leaves[1],
                                                      leaves[2], leaves[3], leaves[4], 64);
          EXPECT_TRUE(r.ok()) << r.status();
          if (!r.ok()) return std::vector<torch::Tensor>{};
          const torch::Tensor loss =
              (r->output * out_weight).sum() + (r->final_state * state_weight).sum();
          return torch::autograd::grad({loss}, leaves);
        };
        const std::vector<torch::Tensor> got = gradients(true), want = gradients(false);
        ASSERT_EQ(got.size(), want.size());
        const char* names[] = {"q", "k", "v", "log_gate", "state"};
        for (size_t i = 0; i < got.size(); ++i) {
          const double err = RelativeError(got[i], want[i]);
          EXPECT_LE(err, 1e-4) << names[i];
          worst = std::max(worst, err);
        }
      }
    }
  }
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

// Grouped-query heads: the kernels read each KV head's keys, values, gates and state for all of
// its query heads, and sum the query heads' gradient shares back onto it.
TEST_F(FusedKeyGatedRecurrenceTest, GroupedQueryHeadsMatchAtenPath) {
  torch::manual_seed(7);
  double worst = 0;
  for (int64_t d : {32, 64, 128}) {
    for (GateKind kind : {GateKind::kRealistic, GateKind::kHarsh, GateKind::kMixed}) {
      for (int64_t t : {1, 70, 300}) {
        for (int64_t kv : {1, 2}) {
          for (bool state_terms : {true, false}) {
            // One token from a zero state: the gate scales nothing, its gradient is rounding noise.
            if (t == 1 && !state_terms) continue;
            SCOPED_TRACE(absl::StrCat("D=", d, " gates=", GateKindName(kind), " T=", t, " kv=", kv,
                                      " state terms=", state_terms));
            const Inputs in = MakeInputs(t, d, kind, kB, 4, kv);
            const torch::Tensor out_weight = torch::randn_like(in.q);
            const torch::Tensor state_weight = torch::randn_like(in.state);
            auto run = [&](bool fused) {
              std::vector<torch::Tensor> leaves;
              for (const torch::Tensor& x : {in.q, in.k, in.v, in.g, in.state}) {
                leaves.push_back(x.clone().requires_grad_());
              }
              const torch::Tensor state = state_terms ? leaves[4] : torch::Tensor();
              if (!state_terms) leaves.pop_back();
              const auto r = fused ? FusedKeyGatedRecurrence(leaves[0], leaves[1], leaves[2],
                                                             leaves[3], state)
                                   : RunChunkedRecurrence("aten", GateDim::kKey, leaves[0],
                                                          leaves[1], leaves[2], leaves[3], state, 64);
              EXPECT_TRUE(r.ok()) << r.status();
              if (!r.ok()) return std::vector<torch::Tensor>{};
              torch::Tensor loss = (r->output * out_weight).sum();
              if (state_terms) loss = loss + (r->final_state * state_weight).sum();
              std::vector<torch::Tensor> results = torch::autograd::grad({loss}, leaves);
              results.push_back(r->output.detach());
              results.push_back(r->final_state.detach());
              return results;
            };
            const std::vector<torch::Tensor> got = run(true), want = run(false);
            ASSERT_EQ(got.size(), want.size());
            for (size_t i = 0; i < got.size(); ++i) {
              const double err = RelativeError(got[i], want[i]);
              EXPECT_LE(err, 1e-4) << "result " << i;
              worst = std::max(worst, err);
            }
          }
        }
      }
    }
  }
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

// Training leaves the final state unused: its gradient arrives undefined.
TEST_F(FusedKeyGatedRecurrenceTest, GradientsWithoutStateTerms) {
  torch::manual_seed(3);
  const Inputs in = MakeInputs(77, 64, GateKind::kRealistic);
  auto gradients = [&](bool fused) {
    std::vector<torch::Tensor> leaves;
    for (const torch::Tensor& x : {in.q, in.k, in.v, in.g}) leaves.push_back(x.clone().requires_grad_());
    const auto r = fused ? FusedKeyGatedRecurrence(leaves[0], leaves[1], leaves[2], leaves[3], {})
                         : RunChunkedRecurrence("aten", GateDim::kKey, leaves[0], leaves[1],
                                                leaves[2], leaves[3], {}, 64);
    EXPECT_TRUE(r.ok()) << r.status();
    return torch::autograd::grad({r->output.square().sum()}, leaves);
  };
  const std::vector<torch::Tensor> got = gradients(true), want = gradients(false);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_LE(RelativeError(got[i], want[i]), 1e-4) << i;
}

// Realistic gates factor through exp(b) and exp(-b); harsh ones take the exact per-channel decay.
// Here chunks of both kinds alternate within each sequence.
TEST_F(FusedKeyGatedRecurrenceTest, FactoredAndExactChunksInOneSequence) {
  torch::manual_seed(6);
  for (int64_t d : {32, 64, 128}) {
    SCOPED_TRACE(absl::StrCat("D=", d));
    Inputs in = MakeInputs(200, d, GateKind::kRealistic);
    const torch::Tensor harsh = MakeLogGate(in.g.sizes(), GateKind::kHarsh, in.g.device());
    const torch::Tensor every_other_16 =
        (torch::arange(200, in.g.options()).div(16, "floor").remainder(2) == 1).view({1, 1, 200, 1});
    in.g = torch::where(every_other_16, harsh, in.g);
    const auto got = FusedKeyGatedRecurrence(in.q, in.k, in.v, in.g, in.state);
    ASSERT_TRUE(got.ok()) << got.status();
    const auto want = NaiveGatedRecurrence(in.q, in.k, in.v, in.g, in.state, false);
    EXPECT_LE(RelativeError(got->output, want.output), 1e-5);
    EXPECT_LE(RelativeError(got->final_state, want.final_state), 1e-5);

    std::vector<torch::Tensor> leaves, reference;
    for (const torch::Tensor& x : {in.q, in.k, in.v, in.g}) {
      leaves.push_back(x.clone().requires_grad_());
      reference.push_back(x.clone().requires_grad_());
    }
    const torch::Tensor w = torch::randn_like(in.v);
    const auto fused = FusedKeyGatedRecurrence(leaves[0], leaves[1], leaves[2], leaves[3], in.state);
    const auto aten = RunChunkedRecurrence("aten", GateDim::kKey, reference[0], reference[1],
                                           reference[2], reference[3], in.state, 64);
    ASSERT_TRUE(fused.ok() && aten.ok());
    const auto got_grads = torch::autograd::grad({(fused->output * w).sum()}, leaves);
    const auto want_grads = torch::autograd::grad({(aten->output * w).sum()}, reference);
    for (size_t i = 0; i < got_grads.size(); ++i) {
      EXPECT_LE(RelativeError(got_grads[i], want_grads[i]), 1e-4) << i;
    }
  }
}

TEST_F(FusedKeyGatedRecurrenceTest, LongSequenceMatchesAtenPath) {
  torch::manual_seed(4);
  const Inputs in = MakeInputs(32768, 64, GateKind::kRealistic, 1, 2);
  const auto got = FusedKeyGatedRecurrence(in.q, in.k, in.v, in.g, in.state);
  ASSERT_TRUE(got.ok()) << got.status();
  const auto want = RunChunkedRecurrence("aten", GateDim::kKey, in.q, in.k, in.v, in.g, in.state, 64);
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_LE(RelativeError(got->output, want->output), 1e-5);
  EXPECT_LE(RelativeError(got->final_state, want->final_state), 1e-5);
}

TEST_F(FusedKeyGatedRecurrenceTest, GatedLinearAttentionDispatchesOnlySupportedInputs) {
  torch::manual_seed(5);
  const Inputs in = MakeInputs(50, 64, GateKind::kRealistic);
  const auto fused = FusedKeyGatedRecurrence(in.q, in.k, in.v, in.g, in.state);
  const auto dispatched = GatedLinearAttention(in.q, in.k, in.v, in.g, in.state, 16);
  ASSERT_TRUE(fused.ok() && dispatched.ok());
  EXPECT_TRUE(torch::equal(fused->output, dispatched->output));

  const Inputs odd = MakeInputs(50, 48, GateKind::kRealistic);
  EXPECT_FALSE(FusedKeyGatedRecurrenceApplies(odd.q, odd.k, odd.v, odd.g));
  EXPECT_FALSE(FusedKeyGatedRecurrenceApplies(in.q.cpu(), in.k.cpu(), in.v.cpu(), in.g.cpu()));
  EXPECT_FALSE(FusedKeyGatedRecurrenceApplies(in.q.to(torch::kBFloat16), in.k.to(torch::kBFloat16),
                                              in.v.to(torch::kBFloat16), in.g));
  EXPECT_FALSE(FusedKeyGatedRecurrenceApplies(in.q, in.k, in.v.narrow(3, 0, 32), in.g));
  const auto rejected = GatedLinearAttention(in.q, in.k.narrow(2, 0, 10), in.v, in.g, in.state, 16);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace liger::testing
