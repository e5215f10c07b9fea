# Writes OUTPUT, a C++ file defining liger::service::http::WebPage() as the contents of INPUT.
file(READ "${INPUT}" page)
string(FIND "${page}" ")liger_web_page\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string delimiter )liger_web_page\"")
endif()
file(WRITE "${OUTPUT}" "// Generated from ${INPUT} by embed_web_page.cmake.
#include \"service/http/web_page.h\"

namespace liger::service::http {

std::string WebPage() { return R\"liger_web_page(${page})liger_web_page\"; }

}  // namespace liger::service::http
")
