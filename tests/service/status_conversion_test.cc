#include "service/status_conversion.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace liger::service {
namespace {

// Every canonical code, 0 (OK) through 16 (UNAUTHENTICATED).
constexpr int kLastCanonicalCode = 16;

TEST(StatusConversionTest, EveryAbslCodeMapsToTheSameGrpcCodeAndBack) {
  for (int code = 1; code <= kLastCanonicalCode; ++code) {
    const std::string message = absl::StrCat("message of code ", code, " with \"quotes\"");
    const absl::Status original(static_cast<absl::StatusCode>(code), message);
    const grpc::Status converted = ToGrpcStatus(original);
    EXPECT_EQ(static_cast<int>(converted.error_code()), code) << original;
    EXPECT_EQ(converted.error_message(), message);
    const absl::Status back = ToAbslStatus(converted);
    EXPECT_EQ(back, original);
  }
}

TEST(StatusConversionTest, NamedCodesMatch) {
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("m")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::InvalidArgumentError("m")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("m")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToAbslStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "m")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ToAbslStatus(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "m")).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(StatusConversionTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(ToAbslStatus(grpc::Status::OK).ok());
}

TEST(StatusConversionTest, NonCanonicalCodesBecomeUnknown) {
  const grpc::Status odd_grpc(static_cast<grpc::StatusCode>(42), "odd");
  const absl::Status from_grpc = ToAbslStatus(odd_grpc);
  EXPECT_EQ(from_grpc.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(from_grpc.message(), "odd");
  const grpc::Status from_absl =
      ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(42), "odd"));
  EXPECT_EQ(from_absl.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(from_absl.error_message(), "odd");
}

}  // namespace
}  // namespace liger::service
