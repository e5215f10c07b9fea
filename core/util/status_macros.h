#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Early-return helpers in the style of Abseil's internal macros.
#define LIGER_RETURN_IF_ERROR(expr)                   \
  do {                                                \
    if (::absl::Status _liger_s = (expr); !_liger_s.ok()) return _liger_s; \
  } while (0)

#define LIGER_CONCAT_INNER(a, b) a##b
#define LIGER_CONCAT(a, b) LIGER_CONCAT_INNER(a, b)

#define LIGER_ASSIGN_OR_RETURN(lhs, expr) \
  LIGER_ASSIGN_OR_RETURN_IMPL(LIGER_CONCAT(_liger_statusor_, __LINE__), lhs, expr)

#define LIGER_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = *std::move(tmp)
