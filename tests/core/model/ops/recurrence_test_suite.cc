#include "tests/core/model/ops/recurrence_test_suite.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model/ops/grouped_heads.h"
#include "tests/core/model/ops/naive_reference.h"
#include "tests/core/model/ops/test_inputs.h"

namespace liger::testing {
namespace {

constexpr int64_t kB = 2, kH = 3, kK = 16, kV = 8;  // K != V catches transposed state/gate dims
constexpr double kTol = 1e-5;

struct Inputs {
  torch::Tensor q, k, v, g, state;
};

Inputs MakeInputs(const RecurrenceVariant& variant, int64_t t, GateKind kind, torch::Device device,
                  int64_t b = kB, int64_t h = kH, int64_t kd = kK, int64_t vd = kV) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(device);
  return {SoftmaxFeatures({b, h, t, kd}, device), SoftmaxFeatures({b, h, t, kd}, device),
          torch::randn({b, h, t, vd}, options),
          MakeLogGate({b, h, t, variant.gate_on_value ? vd : kd}, kind, device),
          torch::randn({b, h, kd, vd}, options)};
}

torch::Tensor Token(const torch::Tensor& x, int64_t t) { return x.select(2, t); }

// Compares prefill with the naive loop over all chunk sizes and lengths; returns the worst error.
double WorstErrorAgainstNaive(const RecurrenceVariant& variant, const std::vector<GateKind>& kinds) {
  double worst = 0;
  for (const torch::Device& device : TestDevices()) {
    for (GateKind kind : kinds) {
      for (int64_t chunk : {1, 16, 64, 100}) {
        for (int64_t t : {1, 7, 64, 65, 200, 333}) {
          SCOPED_TRACE(absl::StrCat(device.str(), " gates=", GateKindName(kind), " chunk=", chunk,
                                    " T=", t));
          const Inputs in = MakeInputs(variant, t, kind, device);
          const auto got = variant.prefill(in.q, in.k, in.v, in.g, in.state, chunk);
          if (!got.ok()) {
            ADD_FAILURE() << got.status();
            continue;
          }
          const auto want =
              NaiveGatedRecurrence(in.q, in.k, in.v, in.g, in.state, variant.gate_on_value);
          EXPECT_TRUE(AllFinite(got->output));
          EXPECT_TRUE(AllFinite(got->final_state));
          const double err = std::max(RelativeError(got->output, want.output),
                                      RelativeError(got->final_state, want.final_state));
          EXPECT_LE(err, kTol);
          worst = std::max(worst, err);
        }
      }
    }
  }
  return worst;
}

TEST_P(RecurrenceTest, MatchesNaiveLoopWithRealisticGates) {
  torch::manual_seed(1);
  const double worst = WorstErrorAgainstNaive(GetParam(), {GateKind::kRealistic});
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

TEST_P(RecurrenceTest, MatchesNaiveLoopWithHarshGates) {
  torch::manual_seed(2);
  const double worst =
      WorstErrorAgainstNaive(GetParam(), {GateKind::kHarsh, GateKind::kExtreme, GateKind::kMixed});
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

TEST_P(RecurrenceTest, UndefinedStateMeansZeros) {
  torch::manual_seed(3);
  const Inputs in = MakeInputs(GetParam(), 65, GateKind::kRealistic, torch::kCPU);
  const auto got = GetParam().prefill(in.q, in.k, in.v, in.g, torch::Tensor(), 16);
  ASSERT_TRUE(got.ok()) << got.status();
  const auto want =
      NaiveGatedRecurrence(in.q, in.k, in.v, in.g, torch::Tensor(), GetParam().gate_on_value);
  EXPECT_LE(RelativeError(got->output, want.output), kTol);
  EXPECT_LE(RelativeError(got->final_state, want.final_state), kTol);
}

TEST_P(RecurrenceTest, TwoPiecesEqualOnePiece) {
  torch::manual_seed(4);
  const RecurrenceVariant& variant = GetParam();
  double worst = 0;
  for (GateKind kind : {GateKind::kRealistic, GateKind::kMixed}) {
    const Inputs in = MakeInputs(variant, 200, kind, torch::kCPU);
    const torch::Tensor state_before = in.state.clone();
    for (int64_t chunk : {16, 64}) {
      const auto whole = variant.prefill(in.q, in.k, in.v, in.g, in.state, chunk);
      ASSERT_TRUE(whole.ok()) << whole.status();
      for (int64_t split : {1, 63, 64, 130, 199}) {
        SCOPED_TRACE(absl::StrCat(GateKindName(kind), " chunk=", chunk, " split=", split));
        auto part = [&](const torch::Tensor& x, int64_t begin, int64_t end) {
          return x.narrow(2, begin, end - begin);
        };
        const auto first = variant.prefill(part(in.q, 0, split), part(in.k, 0, split),
                                           part(in.v, 0, split), part(in.g, 0, split), in.state, chunk);
        ASSERT_TRUE(first.ok()) << first.status();
        const auto second =
            variant.prefill(part(in.q, split, 200), part(in.k, split, 200), part(in.v, split, 200),
                            part(in.g, split, 200), first->final_state, chunk);
        ASSERT_TRUE(second.ok()) << second.status();
        const double err = std::max(
            RelativeError(torch::cat({first->output, second->output}, 2), whole->output),
            RelativeError(second->final_state, whole->final_state));
        EXPECT_LE(err, kTol);
        worst = std::max(worst, err);
      }
    }
    EXPECT_TRUE(torch::equal(in.state, state_before)) << "prefill modified its input state";
  }
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

TEST_P(RecurrenceTest, StepsEqualPrefillAndNaive) {
  torch::manual_seed(5);
  const RecurrenceVariant& variant = GetParam();
  double worst = 0;
  for (const torch::Device& device : TestDevices()) {
    for (GateKind kind : AllGateKinds()) {
      SCOPED_TRACE(absl::StrCat(device.str(), " gates=", GateKindName(kind)));
      const int64_t t = 50;
      const Inputs in = MakeInputs(variant, t, kind, device);
      const auto prefill = variant.prefill(in.q, in.k, in.v, in.g, in.state, 16);
      ASSERT_TRUE(prefill.ok()) << prefill.status();
      const auto naive = NaiveGatedRecurrence(in.q, in.k, in.v, in.g, in.state, variant.gate_on_value);
      torch::Tensor state = in.state.clone();
      const void* storage = state.data_ptr();
      std::vector<torch::Tensor> outputs;
      for (int64_t i = 0; i < t; ++i) {
        const auto o = variant.step(Token(in.q, i), Token(in.k, i), Token(in.v, i), Token(in.g, i), state);
        ASSERT_TRUE(o.ok()) << o.status();
        outputs.push_back(*o);
      }
      EXPECT_EQ(state.data_ptr(), storage) << "the step must update the state in place";
      const torch::Tensor stepped = torch::stack(outputs, 2);
      const double err = std::max({RelativeError(stepped, prefill->output),
                                   RelativeError(state, prefill->final_state),
                                   RelativeError(stepped, naive.output),
                                   RelativeError(state, naive.final_state)});
      EXPECT_LE(err, kTol);
      worst = std::max(worst, err);
    }
  }
  RecordProperty("max_rel_err", absl::StrCat(worst));
}

TEST_P(RecurrenceTest, EmptySequenceReturnsInputState) {
  const Inputs in = MakeInputs(GetParam(), 0, GateKind::kRealistic, torch::kCPU);
  const auto got = GetParam().prefill(in.q, in.k, in.v, in.g, in.state, 64);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->output.sizes(), torch::IntArrayRef({kB, kH, 0, kV}));
  EXPECT_TRUE(got->final_state.is_same(in.state));
  const auto fresh = GetParam().prefill(in.q, in.k, in.v, in.g, torch::Tensor(), 64);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_TRUE(torch::equal(fresh->final_state, torch::zeros({kB, kH, kK, kV})));
}

TEST_P(RecurrenceTest, HalfPrecisionInputsGiveHalfPrecisionOutputs) {
  torch::manual_seed(6);
  const RecurrenceVariant& variant = GetParam();
  const Inputs in = MakeInputs(variant, 70, GateKind::kRealistic, torch::kCPU);
  const torch::Tensor q = in.q.to(torch::kBFloat16), k = in.k.to(torch::kBFloat16);
  const torch::Tensor v = in.v.to(torch::kBFloat16);
  const auto got = variant.prefill(q, k, v, in.g, in.state, 16);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->output.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(got->final_state.scalar_type(), torch::kFloat);
  const auto want = NaiveGatedRecurrence(q, k, v, in.g, in.state, variant.gate_on_value);
  // The state is exact float32 math on the rounded inputs; the output is rounded to bfloat16.
  EXPECT_LE(RelativeError(got->final_state, want.final_state), kTol);
  EXPECT_LE(RelativeError(got->output, want.output), 1e-2);

  torch::Tensor state = in.state.clone();
  const auto o = variant.step(Token(q, 0), Token(k, 0), Token(v, 0), Token(in.g, 0), state);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->scalar_type(), torch::kBFloat16);
}

TEST_P(RecurrenceTest, RejectsBadArguments) {
  const RecurrenceVariant& variant = GetParam();
  const Inputs in = MakeInputs(variant, 5, GateKind::kRealistic, torch::kCPU);
  const int64_t gd = variant.gate_on_value ? kV : kK, other = variant.gate_on_value ? kK : kV;
  auto expect_invalid = [&](const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                            const torch::Tensor& g, const torch::Tensor& state, int64_t chunk,
                            const char* what) {
    const auto got = variant.prefill(q, k, v, g, state, chunk);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << what;
  };
  expect_invalid(torch::Tensor(), in.k, in.v, in.g, in.state, 64, "undefined q");
  expect_invalid(in.q.select(2, 0), in.k, in.v, in.g, in.state, 64, "rank-3 q");
  expect_invalid(in.q, in.k.narrow(2, 0, 4), in.v, in.g, in.state, 64, "k shorter than q");
  expect_invalid(in.q, in.k, torch::randn({kB + 1, kH, 5, kV}), in.g, in.state, 64, "v batch");
  expect_invalid(in.q, in.k, in.v, torch::zeros({kB, kH, 5, other}), in.state, 64, "gate width");
  expect_invalid(in.q, in.k, in.v, in.g, torch::zeros({kB, kH, kV, kK}), 64, "transposed state");
  expect_invalid(in.q, in.k, in.v, in.g, in.state.to(torch::kDouble), 64, "float64 state");
  expect_invalid(in.q, in.k.to(torch::kDouble), in.v, in.g, in.state, 64, "k dtype differs");
  expect_invalid(in.q.to(torch::kLong), in.k, in.v, in.g, in.state, 64, "integer q");
  expect_invalid(in.q, in.k, in.v, in.g.to(torch::kInt), in.state, 64, "integer gate");
  expect_invalid(in.q, in.k, in.v, in.g, in.state, 0, "chunk_size 0");
  const Inputs two_heads = MakeInputs(variant, 5, GateKind::kRealistic, torch::kCPU, kB, 2);
  expect_invalid(in.q, two_heads.k, two_heads.v, two_heads.g, two_heads.state, 64,
                 "KV heads not dividing q's");
  expect_invalid(in.q, in.k.narrow(1, 0, 1), in.v, in.g, torch::Tensor(), 64, "k and v heads differ");
  expect_invalid(in.q, in.k, in.v, in.g, in.state, -3, "negative chunk_size");

  auto expect_step_invalid = [&](const torch::Tensor& q, const torch::Tensor& g, torch::Tensor state,
                                 const char* what) {
    const auto got = variant.step(q, Token(in.k, 0), Token(in.v, 0), g, state);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << what;
  };
  const torch::Tensor q0 = Token(in.q, 0), g0 = Token(in.g, 0);
  expect_step_invalid(q0, g0, torch::Tensor(), "undefined state");
  expect_step_invalid(q0, g0, torch::zeros({kB, kH, kK, kV + 1}), "state width");
  expect_step_invalid(q0, g0, torch::zeros({kB, kH, kK, kV}, torch::kHalf), "half state");
  expect_step_invalid(in.q, g0, in.state.clone(), "q with a time dimension");
  expect_step_invalid(q0, torch::zeros({kB, kH, other}), in.state.clone(), "gate width");
  expect_step_invalid(q0, torch::zeros({kB, kH, gd, 1}), in.state.clone(), "gate rank");
}

// The recurrence token by token with out-of-place tensor ops in float64, so autograd differentiates
// it: the reference for the gradients that fine-tuning takes through the chunked prefill.
GlaResult DifferentiableReference(const torch::Tensor& q, const torch::Tensor& k,
                                  const torch::Tensor& v, const torch::Tensor& g,
                                  const torch::Tensor& state, bool gate_on_value) {
  torch::Tensor s = state;
  std::vector<torch::Tensor> outputs;
  for (int64_t t = 0; t < q.size(2); ++t) {
    const torch::Tensor decay = Token(g, t).exp();
    s = s * (gate_on_value ? decay.unsqueeze(-2) : decay.unsqueeze(-1)) +
        Token(k, t).unsqueeze(-1) * Token(v, t).unsqueeze(-2);
    outputs.push_back(torch::matmul(Token(q, t).unsqueeze(-2), s).squeeze(-2));
  }
  return {torch::stack(outputs, 2), s};
}

TEST_P(RecurrenceTest, GradientsMatchDifferentiableReference) {
  torch::manual_seed(8);
  const RecurrenceVariant& variant = GetParam();
  for (GateKind kind : {GateKind::kRealistic, GateKind::kHarsh}) {
    for (int64_t chunk : {16, 64}) {
      SCOPED_TRACE(absl::StrCat(GateKindName(kind), " chunk=", chunk));
      const Inputs in = MakeInputs(variant, 70, kind, torch::kCPU);
      const torch::Tensor out_weight = torch::randn({kB, kH, 70, kV});
      const torch::Tensor state_weight = torch::randn({kB, kH, kK, kV});
      auto gradients = [&](torch::ScalarType dtype, bool reference) {
        std::vector<torch::Tensor> leaves;
        for (const torch::Tensor& x : {in.q, in.k, in.v, in.g, in.state}) {
          leaves.push_back(x.to(dtype).requires_grad_());
        }
        torch::Tensor out, state;
        if (reference) {
          GlaResult r = DifferentiableReference(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4],
                                                variant.gate_on_value);
          out = r.output, state = r.final_state;
        } else {
          auto r = variant.prefill(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], chunk);
          EXPECT_TRUE(r.ok()) << r.status();
          if (!r.ok()) return std::vector<torch::Tensor>{};
          out = r->output, state = r->final_state;
        }
        const torch::Tensor loss = (out.to(torch::kDouble) * out_weight).sum() +
                                   (state.to(torch::kDouble) * state_weight).sum();
        return torch::autograd::grad({loss}, leaves);
      };
      const std::vector<torch::Tensor> got = gradients(torch::kFloat, false);
      const std::vector<torch::Tensor> want = gradients(torch::kDouble, true);
      ASSERT_EQ(got.size(), want.size());
      const char* names[] = {"q", "k", "v", "log_gate", "state"};
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_TRUE(AllFinite(got[i])) << names[i];
        EXPECT_LE(RelativeError(got[i], want[i]), 1e-4) << names[i];
      }
    }
  }
}

// Grouped-query heads: q has 6 heads, k, v, the gates and the state 2 or 3 (or 1). Query head h
// must see exactly what it would with its KV head copied to every query head (the naive loop's
// layout), for outputs, final state (one per KV head), single steps and gradients (which the
// copies sum back onto their KV head).
TEST_P(RecurrenceTest, GroupedQueryHeadsEqualExpandedHeads) {
  torch::manual_seed(9);
  const RecurrenceVariant& variant = GetParam();
  constexpr int64_t kQueryHeads = 6, kT = 40;
  for (const torch::Device& device : TestDevices()) {
    for (int64_t kv : {1, 2, 3}) {
      SCOPED_TRACE(absl::StrCat(device.str(), " kv_heads=", kv));
      const int64_t groups = kQueryHeads / kv;
      const Inputs in = MakeInputs(variant, kT, GateKind::kRealistic, device, kB, kv);
      const torch::Tensor q = SoftmaxFeatures({kB, kQueryHeads, kT, kK}, device);
      std::vector<torch::Tensor> leaves;
      for (const torch::Tensor& x : {q, in.k, in.v, in.g, in.state}) {
        leaves.push_back(x.clone().requires_grad_());
      }
      const auto got = variant.prefill(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], 16);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->final_state.sizes(), torch::IntArrayRef({kB, kv, kK, kV}));
      const torch::Tensor expanded_state = RepeatHeads(leaves[4], groups);
      const auto want = NaiveGatedRecurrence(
          leaves[0], RepeatHeads(leaves[1], groups), RepeatHeads(leaves[2], groups),
          RepeatHeads(leaves[3], groups), expanded_state, variant.gate_on_value);
      EXPECT_LE(RelativeError(got->output, want.output), kTol);
      EXPECT_LE(RelativeError(got->final_state,
                              want.final_state.view({kB, kv, groups, kK, kV}).select(2, 0)),
                kTol);

      const torch::Tensor out_weight = torch::randn_like(got->output);
      const torch::Tensor state_weight = torch::randn_like(got->final_state);
      auto gradients = [&](const torch::Tensor& out, const torch::Tensor& state) {
        return torch::autograd::grad({(out * out_weight).sum() + (state * state_weight).sum()},
                                     leaves);
      };
      const auto got_grads = gradients(got->output, got->final_state);
      const auto expanded = variant.prefill(
          leaves[0], RepeatHeads(leaves[1], groups), RepeatHeads(leaves[2], groups),
          RepeatHeads(leaves[3], groups), expanded_state, 16);
      ASSERT_TRUE(expanded.ok()) << expanded.status();
      // Each copy of the final state carries the KV head's weight once: average the copies.
      const auto want_grads = gradients(
          expanded->output, expanded->final_state.view({kB, kv, groups, kK, kV}).mean(2));
      const char* names[] = {"q", "k", "v", "log_gate", "state"};
      for (size_t i = 0; i < got_grads.size(); ++i) {
        EXPECT_LE(RelativeError(got_grads[i], want_grads[i]), 1e-4) << names[i];
      }

      torch::Tensor state = in.state.clone();
      std::vector<torch::Tensor> outputs;
      for (int64_t i = 0; i < kT; ++i) {
        const auto o = variant.step(Token(q, i), Token(in.k, i), Token(in.v, i), Token(in.g, i), state);
        ASSERT_TRUE(o.ok()) << o.status();
        outputs.push_back(*o);
      }
      EXPECT_LE(RelativeError(torch::stack(outputs, 2), want.output), kTol);
      EXPECT_LE(RelativeError(state, got->final_state), kTol);
    }
  }
}

// 2^17 tokens: a T x T float32 score matrix would need 64 GiB, so this only passes in linear memory.
TEST_P(RecurrenceTest, LongSequenceRunsInLinearMemory) {
  torch::manual_seed(7);
  const int64_t t = int64_t{1} << 17;
  const Inputs in = MakeInputs(GetParam(), t, GateKind::kRealistic, torch::kCPU, 1, 1, 4, 4);
  const auto got = GetParam().prefill(in.q, in.k, in.v, in.g, in.state, 64);
  ASSERT_TRUE(got.ok()) << got.status();
  const auto want = NaiveGatedRecurrence(in.q, in.k, in.v, in.g, in.state, GetParam().gate_on_value);
  const double err = std::max(RelativeError(got->output, want.output),
                              RelativeError(got->final_state, want.final_state));
  EXPECT_LE(err, kTol);
  RecordProperty("max_rel_err", absl::StrCat(err));
}

}  // namespace
}  // namespace liger::testing
