#pragma once

#include <memory>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "service/tls_options.h"

namespace liger::service {

// The credentials of the gRPC port: plaintext unless `tls` is enabled; then TLS with the
// certificate and key, requiring and verifying client certificates when it names a client CA.
// The files' read errors (NOT_FOUND, PERMISSION_DENIED, ...) name the file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(
    const TlsOptions& tls);

}  // namespace liger::service
