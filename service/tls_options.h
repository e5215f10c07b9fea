#pragma once

#include <string>

#include "absl/status/status.h"

namespace liger::service {

// TLS for the server's gRPC and HTTP ports: PEM files read when the server starts. Without a
// certificate the ports are plaintext. With a client CA the server asks every client for a
// certificate and refuses the connection unless that CA signed it (mutual TLS).
struct TlsOptions {
  std::string cert_file;       // the server's certificate chain
  std::string key_file;        // its private key
  std::string client_ca_file;  // optional: the CA bundle client certificates must chain to

  bool enabled() const { return !cert_file.empty(); }
  // INVALID_ARGUMENT for a certificate without a key or the reverse, or a client CA without a
  // certificate.
  absl::Status Validate() const {
    if (cert_file.empty() != key_file.empty()) {
      return absl::InvalidArgumentError("TLS needs both a certificate and its private key");
    }
    if (!client_ca_file.empty() && cert_file.empty()) {
      return absl::InvalidArgumentError(
          "a client CA (mutual TLS) needs the server's own certificate and key");
    }
    return absl::OkStatus();
  }
};

}  // namespace liger::service
