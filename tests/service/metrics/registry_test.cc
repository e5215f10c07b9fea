#include "service/metrics/registry.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace liger::metrics {
namespace {

TEST(RegistryTest, EmptyRegistryExposesNothing) {
  Registry registry;
  EXPECT_EQ(registry.ExpositionText(), "");
}

TEST(RegistryTest, UnlabelledMetricsAreExposedFromTheStart) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("requests_total", "Requests served.").ok());
  ASSERT_TRUE(registry.AddGauge("queue_depth", "Requests waiting.").ok());
  EXPECT_EQ(registry.ExpositionText(),
            "# HELP queue_depth Requests waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 0\n"
            "# HELP requests_total Requests served.\n"
            "# TYPE requests_total counter\n"
            "requests_total 0\n");
}

TEST(RegistryTest, ExactTextForEveryTypeWithAndWithoutLabels) {
  Registry registry;
  absl::StatusOr<Family<Counter>*> requests =
      registry.AddCounter("liger_requests_total", "RPCs by method and code.", {"method", "code"});
  ASSERT_TRUE(requests.ok()) << requests.status();
  absl::StatusOr<Family<Gauge>*> batch = registry.AddGauge("liger_batch_size", "Decode batch.");
  ASSERT_TRUE(batch.ok()) << batch.status();
  absl::StatusOr<Family<Histogram>*> latency = registry.AddHistogram(
      "liger_latency_seconds", "RPC latency.", {"method"}, {0.5, 1, 2.5});
  ASSERT_TRUE(latency.ok()) << latency.status();
  absl::StatusOr<Family<Histogram>*> tokens =
      registry.AddHistogram("liger_prompt_tokens", "Prompt length.", {}, {16, 256});
  ASSERT_TRUE(tokens.ok()) << tokens.status();

  // Children are created out of order; the text lists them by label values.
  (*(*requests)->WithLabels({"Generate", "OK"}))->Inc();
  (*(*requests)->WithLabels({"Generate", "OK"}))->Inc();
  ASSERT_TRUE((*(*requests)->WithLabels({"Generate", "CANCELLED"}))->IncBy(3).ok());
  (*(*requests)->WithLabels({"Embed", "OK"}))->Inc();
  (*(*batch)->WithLabels({}))->Set(12);
  Histogram* generate = *(*latency)->WithLabels({"Generate"});
  generate->Observe(0.5);
  generate->Observe(2);
  generate->Observe(7);
  (*(*tokens)->WithLabels({}))->Observe(100);

  EXPECT_EQ(registry.ExpositionText(),
            "# HELP liger_batch_size Decode batch.\n"
            "# TYPE liger_batch_size gauge\n"
            "liger_batch_size 12\n"
            "# HELP liger_latency_seconds RPC latency.\n"
            "# TYPE liger_latency_seconds histogram\n"
            "liger_latency_seconds_bucket{method=\"Generate\",le=\"0.5\"} 1\n"
            "liger_latency_seconds_bucket{method=\"Generate\",le=\"1\"} 1\n"
            "liger_latency_seconds_bucket{method=\"Generate\",le=\"2.5\"} 2\n"
            "liger_latency_seconds_bucket{method=\"Generate\",le=\"+Inf\"} 3\n"
            "liger_latency_seconds_sum{method=\"Generate\"} 9.5\n"
            "liger_latency_seconds_count{method=\"Generate\"} 3\n"
            "# HELP liger_prompt_tokens Prompt length.\n"
            "# TYPE liger_prompt_tokens histogram\n"
            "liger_prompt_tokens_bucket{le=\"16\"} 0\n"
            "liger_prompt_tokens_bucket{le=\"256\"} 1\n"
            "liger_prompt_tokens_bucket{le=\"+Inf\"} 1\n"
            "liger_prompt_tokens_sum 100\n"
            "liger_prompt_tokens_count 1\n"
            "# HELP liger_requests_total RPCs by method and code.\n"
            "# TYPE liger_requests_total counter\n"
            "liger_requests_total{method=\"Embed\",code=\"OK\"} 1\n"
            "liger_requests_total{method=\"Generate\",code=\"CANCELLED\"} 3\n"
            "liger_requests_total{method=\"Generate\",code=\"OK\"} 2\n");
}

TEST(RegistryTest, LabelledFamilyWithoutChildrenHasOnlyHelpAndType) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("errors_total", "Errors.", {"kind"}).ok());
  EXPECT_EQ(registry.ExpositionText(),
            "# HELP errors_total Errors.\n# TYPE errors_total counter\n");
}

TEST(RegistryTest, EscapesHelpAndLabelValues) {
  Registry registry;
  absl::StatusOr<Family<Gauge>*> family =
      registry.AddGauge("paths", "Line one\nback\\slash \"quoted\".", {"path"});
  ASSERT_TRUE(family.ok()) << family.status();
  (*(*family)->WithLabels({"C:\\dir\n\"x\""}))->Set(1);
  EXPECT_EQ(registry.ExpositionText(),
            "# HELP paths Line one\\nback\\\\slash \"quoted\".\n"
            "# TYPE paths gauge\n"
            "paths{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
}

TEST(RegistryTest, CallbackGaugesAreComputedAtScrape) {
  Registry registry;
  absl::StatusOr<Family<CallbackGauge>*> memory =
      registry.AddCallbackGauge("device_memory_bytes", "Device memory in use.", {"device"});
  ASSERT_TRUE(memory.ok()) << memory.status();
  double bytes = 1024;
  (*(*memory)->WithLabels({"cuda:0"}))->SetCallback([&bytes] { return bytes; });
  // A child without a callback exports no sample.
  ASSERT_TRUE((*memory)->WithLabels({"cuda:1"}).ok());
  const std::string header =
      "# HELP device_memory_bytes Device memory in use.\n# TYPE device_memory_bytes gauge\n";
  EXPECT_EQ(registry.ExpositionText(), header + "device_memory_bytes{device=\"cuda:0\"} 1024\n");
  bytes = 1.5e9;
  EXPECT_EQ(registry.ExpositionText(),
            header + "device_memory_bytes{device=\"cuda:0\"} 1500000000\n");
}

TEST(RegistryTest, UnlabelledCallbackGaugeIsTheFamilysOneSeries) {
  Registry registry;
  absl::StatusOr<CallbackGauge*> sessions = registry.AddUnlabelledCallbackGauge("sessions", "Held.");
  ASSERT_TRUE(sessions.ok()) << sessions.status();
  (*sessions)->SetCallback([] { return 3.0; });
  EXPECT_EQ(registry.ExpositionText(), "# HELP sessions Held.\n# TYPE sessions gauge\nsessions 3\n");
  EXPECT_FALSE(registry.AddUnlabelledCallbackGauge("sessions", "Again.").ok());
  EXPECT_FALSE(registry.AddUnlabelledCallbackGauge("bad name", "Bad.").ok());
}

TEST(RegistryTest, CallbackMayUseTheRegistryDuringAScrape) {
  Registry registry;
  absl::StatusOr<Family<CallbackGauge>*> family = registry.AddCallbackGauge("a_gauge", "A.");
  ASSERT_TRUE(family.ok()) << family.status();
  (*(*family)->WithLabels({}))->SetCallback([&registry, family] {
    (void)(*family)->WithLabels({});
    return registry.AddCounter("b_total", "B.").ok() ? 1.0 : 2.0;
  });
  const std::string a_text = "# HELP a_gauge A.\n# TYPE a_gauge gauge\n";
  // The family registered during the first scrape shows from the second on.
  EXPECT_EQ(registry.ExpositionText(), a_text + "a_gauge 1\n");
  EXPECT_EQ(registry.ExpositionText(),
            a_text + "a_gauge 2\n# HELP b_total B.\n# TYPE b_total counter\nb_total 0\n");
}

TEST(RegistryTest, DuplicateNamesAreRejected) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("x_total", "X.").ok());
  EXPECT_EQ(registry.AddCounter("x_total", "X.").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddGauge("x_total", "X.").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddHistogram("x_total", "X.", {}, {1}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(RegistryTest, HistogramSampleNamesCollideWithOtherFamilies) {
  Registry registry;
  ASSERT_TRUE(registry.AddHistogram("lat", "Latency.", {}, {1}).ok());
  for (const char* name : {"lat", "lat_bucket", "lat_sum", "lat_count"}) {
    EXPECT_EQ(registry.AddGauge(name, "G.").status().code(), absl::StatusCode::kAlreadyExists)
        << name;
  }
  ASSERT_TRUE(registry.AddCounter("size_count", "C.").ok());
  EXPECT_EQ(registry.AddHistogram("size", "H.", {}, {1}).status().code(),
            absl::StatusCode::kAlreadyExists);
  // The failed registrations left nothing behind.
  EXPECT_TRUE(registry.AddGauge("size", "G.").ok());
}

TEST(RegistryTest, InvalidDefinitionsAreRejected) {
  Registry registry;
  const auto invalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(registry.AddCounter("1bad", "H.").status().code(), invalid);
  EXPECT_EQ(registry.AddCounter("bad-name", "H.").status().code(), invalid);
  EXPECT_EQ(registry.AddCounter("", "H.").status().code(), invalid);
  EXPECT_EQ(registry.AddCounter("ok_total", "").status().code(), invalid);
  EXPECT_EQ(registry.AddCounter("ok_total", "bad \xff").status().code(), invalid);
  EXPECT_EQ(registry.AddCounter("ok_total", "H.", {"__reserved"}).status().code(), invalid);
  EXPECT_EQ(registry.AddCounter("ok_total", "H.", {"bad-label"}).status().code(), invalid);
  EXPECT_EQ(registry.AddCounter("ok_total", "H.", {"a", "a"}).status().code(), invalid);
  EXPECT_EQ(registry.AddHistogram("ok_h", "H.", {"le"}, {1}).status().code(), invalid);
  EXPECT_EQ(registry.AddHistogram("ok_h", "H.", {}, {2, 1}).status().code(), invalid);
  // `le` is only reserved for histograms.
  EXPECT_TRUE(registry.AddGauge("ok_gauge", "H.", {"le"}).ok());
  // None of the rejected names was taken.
  EXPECT_TRUE(registry.AddCounter("ok_total", "H.").ok());
  EXPECT_TRUE(registry.AddHistogram("ok_h", "H.", {}, {1}).ok());
}

TEST(RegistryTest, WrongLabelCountIsAnError) {
  Registry registry;
  absl::StatusOr<Family<Counter>*> family = registry.AddCounter("c_total", "C.", {"a", "b"});
  ASSERT_TRUE(family.ok()) << family.status();
  EXPECT_EQ((*family)->WithLabels({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*family)->WithLabels({"x"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*family)->WithLabels({"x", "y", "z"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Family<Gauge>*> plain = registry.AddGauge("g", "G.");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->WithLabels({"x"}).status().code(), absl::StatusCode::kInvalidArgument);
  // The failed lookups created no children.
  EXPECT_EQ(registry.ExpositionText(),
            "# HELP c_total C.\n# TYPE c_total counter\n# HELP g G.\n# TYPE g gauge\ng 0\n");
}

TEST(RegistryTest, NonUtf8LabelValueIsAnError) {
  Registry registry;
  absl::StatusOr<Family<Counter>*> family = registry.AddCounter("c_total", "C.", {"a"});
  ASSERT_TRUE(family.ok()) << family.status();
  EXPECT_EQ((*family)->WithLabels({"\xc3"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, WithLabelsReturnsTheSameChildEveryTime) {
  Registry registry;
  absl::StatusOr<Family<Counter>*> family = registry.AddCounter("c_total", "C.", {"a"});
  ASSERT_TRUE(family.ok()) << family.status();
  absl::StatusOr<Counter*> first = (*family)->WithLabels({"x"});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*(*family)->WithLabels({"x"}), *first);
  EXPECT_NE(*(*family)->WithLabels({"y"}), *first);
}

TEST(RegistryTest, ConcurrentLookupsAndIncrementsSumExactly) {
  Registry registry;
  absl::StatusOr<Family<Counter>*> family = registry.AddCounter("c_total", "C.", {"worker"});
  ASSERT_TRUE(family.ok()) << family.status();
  constexpr int kRegistryThreads = 8;
  constexpr int kRegistryIncrements = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kRegistryThreads; ++t) {
    threads.emplace_back([family, t] {
      for (int i = 0; i < kRegistryIncrements; ++i) {
        // Half the increments go to a shared child, half to one per thread parity.
        (*(*family)->WithLabels({"shared"}))->Inc();
        (*(*family)->WithLabels({t % 2 == 0 ? "even" : "odd"}))->Inc();
      }
    });
  }
  // Scrapes race with the increments and must not disturb them.
  for (int i = 0; i < 20; ++i) (void)registry.ExpositionText();
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ((*(*family)->WithLabels({"shared"}))->value(), kRegistryThreads * kRegistryIncrements);
  EXPECT_EQ((*(*family)->WithLabels({"even"}))->value(),
            kRegistryThreads / 2 * kRegistryIncrements);
  EXPECT_EQ((*(*family)->WithLabels({"odd"}))->value(),
            kRegistryThreads / 2 * kRegistryIncrements);
}

}  // namespace
}  // namespace liger::metrics
