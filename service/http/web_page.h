#pragma once

#include <string>

namespace liger::service::http {

// clients/web/index.html, compiled into the binary (see embed_web_page.cmake), so the server
// serves its page with no files beside it.
std::string WebPage();

}  // namespace liger::service::http
