#include "core/hosting/model_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/model/transformer.h"
#include "tests/test_paths.h"

namespace liger {
namespace {

std::string RegistryTestModelDir() { return liger::testing::SourceDir() + "/models/llama3-tiny"; }

ModelLoadSpec TinySpec(const std::string& name) { return {name, RegistryTestModelDir(), "", ""}; }

TEST(ModelRegistryTest, LoadsAndFindsAModel) {
  ModelRegistry registry("float32", "cpu");
  absl::StatusOr<std::shared_ptr<const HostedModel>> loaded = registry.Load(TinySpec("tiny"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const HostedModel& model = **loaded;
  EXPECT_EQ(model.name, "tiny");
  EXPECT_EQ(model.model_dir, RegistryTestModelDir());
  EXPECT_EQ(model.dtype, "float32");
  EXPECT_EQ(model.device, "cpu");
  EXPECT_EQ(model.config.vocab_size, 8192);
  ASSERT_NE(model.model, nullptr);
  ASSERT_NE(model.tokenizer, nullptr);
  EXPECT_EQ(model.model->config().num_hidden_layers, model.config.num_hidden_layers);
  EXPECT_LE(model.loaded_at, absl::Now());
  EXPECT_EQ(registry.size(), 1u);

  absl::StatusOr<std::shared_ptr<const HostedModel>> by_name = registry.Find("tiny");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->get(), loaded->get());
  absl::StatusOr<std::shared_ptr<const HostedModel>> only = registry.Find("");
  ASSERT_TRUE(only.ok()) << only.status();
  EXPECT_EQ(only->get(), loaded->get());
}

TEST(ModelRegistryTest, SpecOverridesTheDefaults) {
  ModelRegistry registry("float32", "cpu");
  absl::StatusOr<std::shared_ptr<const HostedModel>> loaded =
      registry.Load({"half", RegistryTestModelDir(), "bfloat16", "cpu"});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->dtype, "bfloat16");
  EXPECT_EQ((*loaded)->model->dtype(), torch::kBFloat16);
}

TEST(ModelRegistryTest, EmptyNameIsTheDirectoryBaseName) {
  ModelRegistry registry("float32", "cpu");
  absl::StatusOr<std::shared_ptr<const HostedModel>> loaded =
      registry.Load({"", RegistryTestModelDir() + "/", "", ""});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->name, "llama3-tiny");
}

TEST(ModelRegistryTest, RejectsBadNames) {
  for (const std::string& name :
       {std::string("has space"), std::string("slash/name"), std::string("."), std::string(".."),
        std::string(129, 'a'), std::string("caf\xc3\xa9")}) {
    EXPECT_EQ(ModelRegistry::ValidateModelName(name).code(), absl::StatusCode::kInvalidArgument)
        << name;
  }
  for (const std::string& name :
       {std::string("a"), std::string("llama-3.2_1B"), std::string(128, 'z')}) {
    EXPECT_TRUE(ModelRegistry::ValidateModelName(name).ok()) << name;
  }
  ModelRegistry registry("float32", "cpu");
  EXPECT_EQ(registry.Load(TinySpec("no good")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(ModelRegistryTest, LoadErrorsHaveSpecificCodes) {
  ModelRegistry registry("float32", "cpu");
  EXPECT_EQ(registry.Load({"x", "", "", ""}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Load({"x", RegistryTestModelDir() + "/missing", "", ""}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(registry.Load({"x", RegistryTestModelDir(), "int8", ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Load({"x", RegistryTestModelDir(), "", "tpu"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ModelRegistry bad_defaults("float64", "cpu");
  EXPECT_EQ(bad_defaults.Load(TinySpec("x")).status().code(), absl::StatusCode::kInvalidArgument);
  // A failed load leaves the name free.
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_TRUE(registry.Load(TinySpec("x")).ok());
}

TEST(ModelRegistryTest, DuplicateNamesAreAlreadyExists) {
  ModelRegistry registry("float32", "cpu");
  ASSERT_TRUE(registry.Load(TinySpec("tiny")).ok());
  EXPECT_EQ(registry.Load(TinySpec("tiny")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(ModelRegistryTest, ConcurrentLoadsOfOneNameLoadOnce) {
  ModelRegistry registry("float32", "cpu");
  constexpr int kLoaders = 4;
  std::atomic<int> loaded{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> loaders;
  for (int i = 0; i < kLoaders; ++i) {
    loaders.emplace_back([&] {
      absl::StatusOr<std::shared_ptr<const HostedModel>> result = registry.Load(TinySpec("same"));
      if (result.ok()) {
        ++loaded;
      } else if (result.status().code() == absl::StatusCode::kAlreadyExists) {
        ++refused;
      }
    });
  }
  for (std::thread& loader : loaders) loader.join();
  EXPECT_EQ(loaded.load(), 1);
  EXPECT_EQ(refused.load(), kLoaders - 1);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(ModelRegistryTest, FindWithoutANameNeedsExactlyOneModel) {
  ModelRegistry registry("float32", "cpu");
  EXPECT_EQ(registry.Find("").status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(registry.Load(TinySpec("b")).ok());
  ASSERT_TRUE(registry.Load(TinySpec("a")).ok());
  EXPECT_EQ(registry.Find("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Find("c").status().code(), absl::StatusCode::kNotFound);
  const std::vector<std::shared_ptr<const HostedModel>> models = registry.List();
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0]->name, "a");
  EXPECT_EQ(models[1]->name, "b");
}

// A model a tenant loads exists for that tenant only, as its sessions and jobs do; the server's
// own (the empty tenant's) are shared by all.
TEST(ModelRegistryTest, ATenantSeesItsOwnModelsAndTheSharedOnes) {
  ModelRegistry registry("float32", "cpu");
  ASSERT_TRUE(registry.Load(TinySpec("shared")).ok());
  ModelLoadSpec mine = TinySpec("mine");
  mine.tenant = "tenant-a";
  absl::StatusOr<std::shared_ptr<const HostedModel>> a_model = registry.Load(mine);
  ASSERT_TRUE(a_model.ok()) << a_model.status();
  EXPECT_EQ((*a_model)->tenant, "tenant-a");

  EXPECT_TRUE(registry.Find("mine", "tenant-a").ok());
  const absl::Status hidden = registry.Find("mine", "tenant-b").status();
  EXPECT_EQ(hidden.code(), absl::StatusCode::kNotFound);
  // Word for word what a name never loaded gets, so names reveal nothing across tenants.
  EXPECT_EQ(hidden.message(), registry.Find("mine", "tenant-c").status().message());
  EXPECT_EQ(registry.Find("nothing", "tenant-b").status().message(),
            std::string(hidden.message()).replace(hidden.message().find("mine"), 4, "nothing"));
  EXPECT_TRUE(registry.Find("shared", "tenant-b").ok());
  EXPECT_EQ(registry.Find("", "tenant-b")->get(), registry.Find("shared")->get());
  EXPECT_EQ(registry.Find("", "tenant-a").status().code(), absl::StatusCode::kInvalidArgument);

  ASSERT_EQ(registry.List("tenant-a").size(), 2u);
  ASSERT_EQ(registry.List("tenant-b").size(), 1u);
  EXPECT_EQ(registry.List("tenant-b")[0]->name, "shared");
  EXPECT_EQ(registry.ListAll().size(), 2u);

  // Another tenant may use the same name for its own model; nobody may shadow a shared name.
  ModelLoadSpec theirs = TinySpec("mine");
  theirs.tenant = "tenant-b";
  ASSERT_TRUE(registry.Load(theirs).ok());
  EXPECT_NE(registry.Find("mine", "tenant-a")->get(), registry.Find("mine", "tenant-b")->get());
  ModelLoadSpec shadow = TinySpec("shared");
  shadow.tenant = "tenant-a";
  EXPECT_EQ(registry.Load(shadow).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.Load(TinySpec("mine")).status().code(), absl::StatusCode::kAlreadyExists);

  // Unloading: only one's own; the shared model only by the server (the empty tenant).
  EXPECT_EQ(registry.Unload("shared", "tenant-a").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(registry.Unload("mine", "tenant-c").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(registry.Unload("mine", "tenant-b").ok());
  EXPECT_TRUE(registry.Find("mine", "tenant-a").ok());
  ASSERT_TRUE(registry.Unload("shared").ok());
}

TEST(ModelRegistryTest, UnloadLeavesHeldModelsUsable) {
  ModelRegistry registry("float32", "cpu");
  absl::StatusOr<std::shared_ptr<const HostedModel>> loaded = registry.Load(TinySpec("tiny"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const std::shared_ptr<const HostedModel> held = *loaded;
  ASSERT_TRUE(registry.Unload("tiny").ok());
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.Find("tiny").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry.Unload("tiny").code(), absl::StatusCode::kNotFound);
  // A request that still holds the model can run it.
  absl::StatusOr<torch::Tensor> logits =
      held->model->Forward(torch::tensor({{1, 2, 3}}, torch::kInt64));
  ASSERT_TRUE(logits.ok()) << logits.status();
  EXPECT_EQ(logits->size(2), held->config.vocab_size);
  // The name is free again.
  EXPECT_TRUE(registry.Load(TinySpec("tiny")).ok());
}

}  // namespace
}  // namespace liger
