#pragma once

#include <nlohmann/json.hpp>

#include "liger/v1/liger.pb.h"

namespace liger::cli {

// A session as the CLI prints it: the proto's fields under their proto names and in its order,
// timestamps in RFC 3339.
nlohmann::ordered_json SessionToJson(const v1::Session& session);

}  // namespace liger::cli
