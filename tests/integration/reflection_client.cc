#include "tests/integration/reflection_client.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"

namespace liger::testing {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
constexpr auto kReflectionDeadline = std::chrono::seconds(30);

absl::StatusOr<std::unique_ptr<Message>> NewReflectionMessage(const std::string& type_name) {
  const Descriptor* type =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type_name);
  if (type == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        type_name, " is not in the generated pool: is libgrpc++_reflection linked in?"));
  }
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
}

// Sends one ServerReflectionRequest with the string field `field` set to `value` and returns the
// server's one response.
absl::StatusOr<std::unique_ptr<Message>> ReflectionRoundTrip(grpc::Channel& channel,
                                                             const std::string& field,
                                                             const std::string& value) {
  absl::StatusOr<std::unique_ptr<Message>> request =
      NewReflectionMessage("grpc.reflection.v1alpha.ServerReflectionRequest");
  if (!request.ok()) return request.status();
  absl::StatusOr<std::unique_ptr<Message>> response =
      NewReflectionMessage("grpc.reflection.v1alpha.ServerReflectionResponse");
  if (!response.ok()) return response.status();
  const FieldDescriptor* request_field = (*request)->GetDescriptor()->FindFieldByName(field);
  if (request_field == nullptr) return absl::InternalError(absl::StrCat("no field ", field));
  (*request)->GetReflection()->SetString(request->get(), request_field, value);

  // The generic stub carries serialized bytes, so no generated stub is needed.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kReflectionDeadline);
  grpc::CompletionQueue queue;
  grpc::GenericStub stub(channel.shared_from_this());
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, kReflectionMethod, &queue);
  const auto step = [&queue](void* tag) {
    void* got = nullptr;
    bool ok = false;
    return queue.Next(&got, &ok) && got == tag && ok;
  };
  // Each step waits for the one operation in flight; a failed step skips to Finish, which always
  // runs so the queue can be drained before it is destroyed.
  call->StartCall(reinterpret_cast<void*>(1));
  bool ok = step(reinterpret_cast<void*>(1));
  const std::string request_bytes = (*request)->SerializeAsString();
  grpc::Slice request_slice(request_bytes);
  if (ok) {
    call->WriteLast(grpc::ByteBuffer(&request_slice, 1), grpc::WriteOptions(),
                    reinterpret_cast<void*>(2));
    ok = step(reinterpret_cast<void*>(2));
  }
  grpc::ByteBuffer response_buffer;
  if (ok) {
    call->Read(&response_buffer, reinterpret_cast<void*>(3));
    ok = step(reinterpret_cast<void*>(3));
  }
  if (!ok) context.TryCancel();
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  step(reinterpret_cast<void*>(4));
  queue.Shutdown();
  void* ignored_tag = nullptr;
  bool ignored_ok = false;
  while (queue.Next(&ignored_tag, &ignored_ok)) {
  }
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("reflection: ", status.error_message()));
  }
  if (!ok) return absl::UnavailableError("reflection sent no response");
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return absl::InternalError("unreadable response");
  std::string response_bytes;
  for (const grpc::Slice& slice : slices) {
    response_bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (!(*response)->ParseFromString(response_bytes)) {
    return absl::InternalError("unparsable reflection response");
  }
  return std::move(*response);
}

// The sub-message `name` of `message`, or an error naming the server's error_response.
absl::StatusOr<const Message*> ReflectionField(const Message& message, const std::string& name) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  const Descriptor* type = message.GetDescriptor();
  const FieldDescriptor* field = type->FindFieldByName(name);
  if (field != nullptr && reflection->HasField(message, field)) {
    return &reflection->GetMessage(message, field);
  }
  const FieldDescriptor* error_field = type->FindFieldByName("error_response");
  if (error_field != nullptr && reflection->HasField(message, error_field)) {
    const Message& error = reflection->GetMessage(message, error_field);
    const Descriptor* error_type = error.GetDescriptor();
    const int code =
        error.GetReflection()->GetInt32(error, error_type->FindFieldByName("error_code"));
    const std::string text =
        error.GetReflection()->GetString(error, error_type->FindFieldByName("error_message"));
    return absl::Status(static_cast<absl::StatusCode>(code), text);
  }
  return absl::InternalError(absl::StrCat("reflection response has no ", name));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ReflectionListServices(grpc::Channel& channel) {
  absl::StatusOr<std::unique_ptr<Message>> response =
      ReflectionRoundTrip(channel, "list_services", "*");
  if (!response.ok()) return response.status();
  absl::StatusOr<const Message*> list = ReflectionField(**response, "list_services_response");
  if (!list.ok()) return list.status();
  const Message& services = **list;
  const FieldDescriptor* service_field = services.GetDescriptor()->FindFieldByName("service");
  std::vector<std::string> names;
  const int count = services.GetReflection()->FieldSize(services, service_field);
  for (int i = 0; i < count; ++i) {
    const Message& service =
        services.GetReflection()->GetRepeatedMessage(services, service_field, i);
    names.push_back(service.GetReflection()->GetString(
        service, service.GetDescriptor()->FindFieldByName("name")));
  }
  return names;
}

absl::StatusOr<google::protobuf::FileDescriptorProto> ReflectionFileContainingSymbol(
    grpc::Channel& channel, const std::string& symbol) {
  absl::StatusOr<std::unique_ptr<Message>> response =
      ReflectionRoundTrip(channel, "file_containing_symbol", symbol);
  if (!response.ok()) return response.status();
  absl::StatusOr<const Message*> files = ReflectionField(**response, "file_descriptor_response");
  if (!files.ok()) return files.status();
  const Message& file_response = **files;
  const FieldDescriptor* bytes_field =
      file_response.GetDescriptor()->FindFieldByName("file_descriptor_proto");
  if (file_response.GetReflection()->FieldSize(file_response, bytes_field) < 1) {
    return absl::InternalError("reflection returned no file descriptor");
  }
  // The first file is the one defining the symbol; its dependencies follow.
  google::protobuf::FileDescriptorProto file;
  if (!file.ParseFromString(
          file_response.GetReflection()->GetRepeatedString(file_response, bytes_field, 0))) {
    return absl::InternalError("unparsable file descriptor");
  }
  return file;
}

}  // namespace liger::testing
