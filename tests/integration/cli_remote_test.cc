// Runs the real `liger serve` with the embedded model on port 0 and drives it only through the
// real `liger` CLI's --server mode: remote generation against local generation, session turns
// against one-shot generation over the same tokens, forks, deletes, server-side conversion and the
// errors of an unreachable server. The fine-tune case calls the remote fine-tune function
// directly, since the `finetune` command wires it in elsewhere.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cli/remote/remote_fine_tune.h"
#include "tests/core/io/temp_dir.h"
#include "tests/integration/command_runner.h"
#include "tests/integration/serve_process.h"
#include "tests/test_paths.h"

namespace liger::testing {
namespace {

constexpr absl::Duration kRemoteServeStartTimeout = absl::Seconds(60);
// The CLI's connect timeout is 5 s; an unreachable server must be reported well within this.
constexpr absl::Duration kUnreachableReportTimeout = absl::Seconds(30);
constexpr char kRemoteTurnTokens[] = "12";

std::string RemoteTestModelDir() { return SourceDir() + "/models/llama3-tiny"; }

CommandResult Liger(std::vector<std::string> args) {
  args.insert(args.begin(), LigerBinary());
  return RunCommand(args);
}

// What `liger generate --ids` prints: the prompt's and the generated text, then "ids: ...".
struct GenerateOutput {
  std::string text;
  std::vector<int32_t> ids;
};

GenerateOutput ParseGenerateOutput(const CommandResult& result) {
  GenerateOutput parsed;
  const size_t ids_at = result.out.rfind("\nids:");
  EXPECT_NE(ids_at, std::string::npos) << result.out;
  if (ids_at == std::string::npos) return parsed;
  parsed.text = result.out.substr(0, ids_at);
  absl::string_view ids = absl::StripAsciiWhitespace(
      absl::string_view(result.out).substr(ids_at + std::string("\nids:").size()));
  for (absl::string_view piece : absl::StrSplit(ids, ' ', absl::SkipEmpty())) {
    int32_t id = 0;
    EXPECT_TRUE(absl::SimpleAtoi(piece, &id)) << piece;
    parsed.ids.push_back(id);
  }
  return parsed;
}

// The ids `liger tokenize` prints ("[1, 2, 3]").
std::vector<int32_t> RemoteTestTokenize(const std::string& text, bool special) {
  std::vector<std::string> args = {"tokenize", "--model", RemoteTestModelDir(), "--text", text};
  if (!special) args.push_back("--no-special");
  const CommandResult result = Liger(args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return ParsePrintedIds(result.out);
}

nlohmann::json ParseJsonOutput(const CommandResult& result) {
  EXPECT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json json = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(json.is_discarded()) << "not JSON: " << result.out;
  return json;
}

// A failed command exits 1 with one line on stderr, "liger COMMAND: ...", naming `mentions`.
void ExpectOneLineError(const CommandResult& r, const std::string& command,
                        const std::vector<std::string>& mentions) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(absl::StartsWith(r.err, "liger " + command + ": ")) << r.err;
  for (const std::string& word : mentions) {
    EXPECT_TRUE(absl::StrContains(r.err, word)) << "no \"" << word << "\" in: " << r.err;
  }
}

// A port nothing listens on: bound to pick a free one, then closed.
int UnusedLocalPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(fd);
  return ntohs(address.sin_port);
}

std::string JoinIds(const std::vector<int32_t>& ids) { return absl::StrJoin(ids, ","); }

class CliRemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServeProcess>> server =
        ServeProcess::Start({"--model", RemoteTestModelDir(), "--port", "0"}, dir_.path());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    const absl::Status listening = server_->WaitUntilListening(kRemoteServeStartTimeout, false);
    ASSERT_TRUE(listening.ok()) << listening;
  }

  // Converts the embedded model on the server into a GLA model loaded as `name`, whose session
  // state has a fixed size.
  void ConvertAndLoad(const std::string& name) {
    const CommandResult convert =
        Liger({"convert", "--server", server_->address(), "--model", RemoteTestModelDir(),
               "--output", dir_.File(name), "--variant", "gla", "--load-as", name});
    ASSERT_EQ(convert.exit_code, 0) << convert.err;
  }

  nlohmann::json Session(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"session"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--server", server_->address()});
    return ParseJsonOutput(Liger(argv));
  }

  // One greedy turn of `kRemoteTurnTokens` tokens; extra: the prompt and session flags.
  CommandResult RemoteGenerate(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"generate",     "--server",         server_->address(),
                                     "--max-tokens", kRemoteTurnTokens, "--ids"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Liger(argv);
  }

  TempDir dir_;
  std::unique_ptr<ServeProcess> server_;
};

TEST_F(CliRemoteTest, GreedyGenerateEqualsLocalGenerate) {
  const std::vector<std::string> flags = {"--prompt", "Call me Ishmael.", "--max-tokens", "24",
                                          "--ids"};
  std::vector<std::string> local = {"generate", "--model", RemoteTestModelDir()};
  std::vector<std::string> remote = {"generate", "--server", server_->address()};
  local.insert(local.end(), flags.begin(), flags.end());
  remote.insert(remote.end(), flags.begin(), flags.end());
  const CommandResult local_result = Liger(local);
  const CommandResult remote_result = Liger(remote);
  ASSERT_EQ(local_result.exit_code, 0) << local_result.err;
  ASSERT_EQ(remote_result.exit_code, 0) << remote_result.err;
  EXPECT_EQ(remote_result.err, "");
  EXPECT_EQ(remote_result.out, local_result.out);
  EXPECT_EQ(ParseGenerateOutput(remote_result).ids.size(), 24u) << remote_result.out;
}

TEST_F(CliRemoteTest, SeededSamplingFlagsReachTheServer) {
  const std::string prompt_ids = JoinIds(RemoteTestTokenize("The whale", true));
  const auto sampling = [&](const std::string& seed) {
    return std::vector<std::string>{"--prompt-ids", prompt_ids, "--max-tokens", "20",
                                    "--temperature", "0.9", "--top-k", "40", "--top-p", "0.95",
                                    "--seed", seed, "--ids"};
  };
  std::vector<std::string> local = {"generate", "--model", RemoteTestModelDir()};
  std::vector<std::string> remote = {"generate", "--server", server_->address()};
  std::vector<std::string> reseeded = remote;
  for (auto* argv : {&local, &remote}) {
    const std::vector<std::string> flags = sampling("7");
    argv->insert(argv->end(), flags.begin(), flags.end());
  }
  const std::vector<std::string> other_seed = sampling("8");
  reseeded.insert(reseeded.end(), other_seed.begin(), other_seed.end());
  const CommandResult local_result = Liger(local);
  const CommandResult remote_result = Liger(remote);
  ASSERT_EQ(remote_result.exit_code, 0) << remote_result.err;
  EXPECT_EQ(remote_result.out, local_result.out);
  // Another seed samples another continuation, so the seed did travel.
  const CommandResult reseeded_result = Liger(reseeded);
  ASSERT_EQ(reseeded_result.exit_code, 0) << reseeded_result.err;
  EXPECT_NE(reseeded_result.out, remote_result.out);
}

TEST_F(CliRemoteTest, SessionTurnsEqualOneShotGenerationOverTheSameTokens) {
  ASSERT_NO_FATAL_FAILURE(ConvertAndLoad("tiny-gla"));
  const nlohmann::json created = Session({"create", "--model-name", "tiny-gla"});
  const std::string id = created.value("session_id", "");
  ASSERT_FALSE(id.empty()) << created;
  EXPECT_EQ(created.value("model", ""), "tiny-gla");
  EXPECT_EQ(created.value("tokens", -1), 0);
  const int64_t state_bytes = created.value("state_bytes", int64_t{-1});
  EXPECT_GT(state_bytes, 0);
  for (const char* key : {"created_at", "last_used_at"}) {
    EXPECT_TRUE(created.contains(key)) << created;
  }

  const std::string prompt_a = "Call me Ishmael.";
  const std::string prompt_b = " Some years ago";
  const CommandResult turn_a = RemoteGenerate({"--session", id, "--prompt", prompt_a});
  ASSERT_EQ(turn_a.exit_code, 0) << turn_a.err;
  const GenerateOutput out_a = ParseGenerateOutput(turn_a);
  const nlohmann::json after_a = Session({"get", "--id", id});
  const CommandResult turn_b = RemoteGenerate({"--session", id, "--prompt", prompt_b});
  ASSERT_EQ(turn_b.exit_code, 0) << turn_b.err;
  const GenerateOutput out_b = ParseGenerateOutput(turn_b);
  const nlohmann::json after_b = Session({"get", "--id", id});

  // A session's first turn gets the BOS, later turns do not.
  const std::vector<int32_t> ids_a = RemoteTestTokenize(prompt_a, true);
  const std::vector<int32_t> ids_b = RemoteTestTokenize(prompt_b, false);
  std::vector<int32_t> all = ids_a;
  all.insert(all.end(), out_a.ids.begin(), out_a.ids.end());
  EXPECT_EQ(after_a.value("tokens", -1), static_cast<int64_t>(all.size())) << after_a;
  all.insert(all.end(), ids_b.begin(), ids_b.end());
  const CommandResult one_shot =
      RemoteGenerate({"--model-name", "tiny-gla", "--prompt-ids", JoinIds(all)});
  ASSERT_EQ(one_shot.exit_code, 0) << one_shot.err;
  const GenerateOutput out_one_shot = ParseGenerateOutput(one_shot);
  all.insert(all.end(), out_b.ids.begin(), out_b.ids.end());

  EXPECT_EQ(out_one_shot.ids, out_b.ids);
  EXPECT_EQ(out_one_shot.text, out_a.text + out_b.text);
  EXPECT_EQ(after_b.value("tokens", -1), static_cast<int64_t>(all.size())) << after_b;
  EXPECT_EQ(after_a.value("state_bytes", -1), state_bytes);
  EXPECT_EQ(after_b.value("state_bytes", -1), state_bytes);

  const nlohmann::json listed = Session({"list", "--model-name", "tiny-gla"});
  ASSERT_TRUE(listed.is_array()) << listed;
  ASSERT_EQ(listed.size(), 1u) << listed;
  EXPECT_EQ(listed[0].value("session_id", ""), id);
  EXPECT_EQ(Session({"list", "--model-name", "llama3-tiny"}), nlohmann::json::array());
}

TEST_F(CliRemoteTest, ForkContinuesLikeTheOriginal) {
  ASSERT_NO_FATAL_FAILURE(ConvertAndLoad("tiny-gla"));
  const std::string id = Session({"create", "--model-name", "tiny-gla"}).value("session_id", "");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(RemoteGenerate({"--session", id, "--prompt", "It was the best of times"}).exit_code,
            0);
  const nlohmann::json original = Session({"get", "--id", id});
  const nlohmann::json fork = Session({"fork", "--id", id});
  const std::string fork_id = fork.value("session_id", "");
  ASSERT_FALSE(fork_id.empty()) << fork;
  EXPECT_NE(fork_id, id);
  EXPECT_EQ(fork.value("tokens", -1), original.value("tokens", -2));
  EXPECT_EQ(fork.value("model", ""), "tiny-gla");

  const CommandResult from_fork = RemoteGenerate({"--session", fork_id, "--prompt", ", it was"});
  const CommandResult from_original = RemoteGenerate({"--session", id, "--prompt", ", it was"});
  ASSERT_EQ(from_fork.exit_code, 0) << from_fork.err;
  ASSERT_EQ(from_original.exit_code, 0) << from_original.err;
  EXPECT_EQ(from_fork.out, from_original.out);
  EXPECT_EQ(Session({"get", "--id", fork_id}).value("tokens", -1),
            Session({"get", "--id", id}).value("tokens", -2));
}

TEST_F(CliRemoteTest, DeletedSessionIsNotFound) {
  const std::string id = Session({"create"}).value("session_id", "");
  ASSERT_FALSE(id.empty());
  const CommandResult deleted =
      Liger({"session", "delete", "--id", id, "--server", server_->address()});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.err, "");
  ExpectOneLineError(Liger({"session", "get", "--id", id, "--server", server_->address()}),
                     "session", {"NOT_FOUND", id});
  ExpectOneLineError(RemoteGenerate({"--session", id, "--prompt", "hello"}), "generate",
                     {"NOT_FOUND", id});
  EXPECT_EQ(Session({"list"}), nlohmann::json::array());
}

TEST_F(CliRemoteTest, ConvertOnTheServerProducesALoadableModel) {
  const std::string remote_out = dir_.File("remote-gla");
  const CommandResult remote =
      Liger({"convert", "--server", server_->address(), "--model", RemoteTestModelDir(),
             "--output", remote_out, "--variant", "gla", "--window", "32", "--load-as",
             "remote-gla"});
  ASSERT_EQ(remote.exit_code, 0) << remote.err;
  const std::string local_out = dir_.File("local-gla");
  const CommandResult local = Liger({"convert", "--model", RemoteTestModelDir(), "--output",
                                     local_out, "--variant", "gla", "--window", "32"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  // The same lines as the local command, plus the name it was loaded under.
  std::string expected = local.out;
  absl::StrReplaceAll({{local_out, remote_out}}, &expected);
  EXPECT_EQ(remote.out, expected + "loaded as remote-gla\n");

  // Loaded on the server, and loadable by the local CLI, generating alike.
  const std::vector<std::string> flags = {"--prompt", "Call me Ishmael.", "--max-tokens", "16",
                                          "--ids"};
  std::vector<std::string> served = {"generate", "--server", server_->address(), "--model-name",
                                     "remote-gla"};
  std::vector<std::string> loaded = {"generate", "--model", remote_out};
  served.insert(served.end(), flags.begin(), flags.end());
  loaded.insert(loaded.end(), flags.begin(), flags.end());
  const CommandResult served_result = Liger(served);
  const CommandResult loaded_result = Liger(loaded);
  ASSERT_EQ(served_result.exit_code, 0) << served_result.err;
  ASSERT_EQ(loaded_result.exit_code, 0) << loaded_result.err;
  EXPECT_EQ(served_result.out, loaded_result.out);

  // The server's errors come back as one line with their code.
  ExpectOneLineError(Liger({"convert", "--server", server_->address(), "--model",
                            RemoteTestModelDir(), "--output", remote_out, "--variant", "gla"}),
                     "convert", {"ALREADY_EXISTS"});
  ExpectOneLineError(Liger({"convert", "--server", server_->address(), "--model",
                            dir_.File("no-such-model"), "--output", dir_.File("x"), "--variant",
                            "gla"}),
                     "convert", {"NOT_FOUND"});
}

TEST_F(CliRemoteTest, BadFlagsAndUnknownNamesFailWithOneLine) {
  const std::string server = server_->address();
  ExpectOneLineError(Liger({"generate", "--server", server, "--model", RemoteTestModelDir(),
                            "--prompt", "hi"}),
                     "generate", {"--model"});
  ExpectOneLineError(Liger({"generate", "--model", RemoteTestModelDir(), "--session", "x",
                            "--prompt", "hi"}),
                     "generate", {"--session", "--server"});
  ExpectOneLineError(Liger({"generate", "--server", server, "--prompt", "hi", "--temperature",
                            "-1"}),
                     "generate", {"temperature"});
  ExpectOneLineError(Liger({"generate", "--server", server}), "generate", {"--prompt"});
  ExpectOneLineError(Liger({"convert", "--server", server, "--model", RemoteTestModelDir(),
                            "--output", dir_.File("x"), "--variant", "lstm"}),
                     "convert", {"--variant", "lstm"});
  ExpectOneLineError(Liger({"session", "get", "--server", server}), "session", {"--id"});
  ExpectOneLineError(Liger({"session", "rename", "--server", server}), "session", {"rename"});
  ExpectOneLineError(Liger({"session", "create"}), "session", {"--server"});
  ExpectOneLineError(Liger({"session", "create", "--server", server, "--model-name", "ghost"}),
                     "session", {"NOT_FOUND", "ghost"});
}

TEST(CliRemoteUnreachableTest, AnUnreachableServerIsAClearErrorNotAHang) {
  const std::string address = absl::StrCat("127.0.0.1:", UnusedLocalPort());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"generate", "--server", address, "--prompt", "hi"},
        std::vector<std::string>{"session", "list", "--server", address},
        std::vector<std::string>{"health", "--server", address, "--timeout-seconds", "2"}}) {
    const absl::Time start = absl::Now();
    const CommandResult result = Liger(args);
    EXPECT_LT(absl::Now() - start, kUnreachableReportTimeout);
    ExpectOneLineError(result, args[0], {"UNAVAILABLE", address});
    EXPECT_EQ(result.out, "");
  }
}

TEST_F(CliRemoteTest, HealthReportsServing) {
  const CommandResult result = Liger({"health", "--server", server_->address()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "SERVING\n");
}

// The remote fine-tune function `liger finetune --server` runs: a short job on a GLA conversion,
// followed to its end, and a submission the server refuses.
TEST_F(CliRemoteTest, RemoteFineTuneFollowsTheJobToItsEnd) {
  const std::string model = dir_.File("tiny-gla");
  const CommandResult convert =
      Liger({"convert", "--server", server_->address(), "--model", RemoteTestModelDir(),
             "--output", model, "--variant", "gla"});
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  {
    std::ofstream train(dir_.File("train.jsonl"));
    for (const char* text : {"Call me Ishmael. Some years ago, never mind how long precisely, "
                             "having little or no money in my purse, I thought I would sail.",
                             "It is a way I have of driving off the spleen and regulating the "
                             "circulation, whenever I find myself growing grim about the mouth."}) {
      train << nlohmann::json{{"text", text}}.dump() << "\n";
    }
  }
  v1::FineTuneRequest request;
  request.set_model_dir(model);
  request.set_output_dir(dir_.File("tuned"));
  request.set_train_data(dir_.File("train.jsonl"));
  request.set_max_steps(2);
  request.set_sequence_length(32);
  request.set_gradient_accumulation_steps(1);
  request.set_seed(3);

  ::testing::internal::CaptureStdout();
  const absl::Status status = cli::RunRemoteFineTune(server_->address(), request);
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(status.ok()) << status << "\n" << out;
  const std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << out;
  EXPECT_TRUE(absl::StartsWith(lines.front(), "submitted job ")) << out;
  const std::string job_id = lines.front().substr(std::string("submitted job ").size());
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i], "job " + job_id + ": ")) << lines[i];
  }
  EXPECT_TRUE(absl::StrContains(lines.back(), "SUCCEEDED")) << out;
  EXPECT_TRUE(absl::StrContains(lines.back(), "step 2/2")) << out;
  EXPECT_TRUE(absl::StrContains(lines.back(), dir_.File("tuned"))) << out;
  // The output is a checkpoint the CLI loads.
  const CommandResult generate = Liger({"generate", "--model", dir_.File("tuned"), "--prompt",
                                        "Call me", "--max-tokens", "4"});
  EXPECT_EQ(generate.exit_code, 0) << generate.err;

  // A refused submission is the server's error, code first; nothing is printed.
  request.set_output_dir(dir_.File("tuned-again"));
  request.set_train_data(dir_.File("no-such-data.jsonl"));
  ::testing::internal::CaptureStdout();
  const absl::Status refused = cli::RunRemoteFineTune(server_->address(), request);
  const std::string refused_out = ::testing::internal::GetCapturedStdout();
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StartsWith(refused.message(),
                               absl::StatusCodeToString(refused.code()) + ": "))
      << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "no-such-data.jsonl")) << refused;
  EXPECT_EQ(refused_out, "") << refused_out;
}

}  // namespace
}  // namespace liger::testing
