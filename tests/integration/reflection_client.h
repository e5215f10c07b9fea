#pragma once

#include <string>
#include <vector>

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/channel.h>

#include "absl/status/statusor.h"

namespace liger::testing {

// A client of gRPC server reflection (grpc.reflection.v1alpha.ServerReflection), what grpcurl and
// similar tools use to discover a server's API. Debian ships the protocol's generated classes
// inside libgrpc++_reflection but not their headers, so the messages are built through protobuf
// reflection from the descriptors that library registers (link it with --no-as-needed).

// The fully qualified names of the services the server offers.
absl::StatusOr<std::vector<std::string>> ReflectionListServices(grpc::Channel& channel);

// The descriptor of the .proto file that defines `symbol` (e.g. "liger.v1.LigerService").
// NOT_FOUND (the server's error) for an unknown symbol.
absl::StatusOr<google::protobuf::FileDescriptorProto> ReflectionFileContainingSymbol(
    grpc::Channel& channel, const std::string& symbol);

}  // namespace liger::testing
