// The page a browser gets when it opens the server's URL: a small echo client in
// JavaScript, so a person can try the server without any tool.
#pragma once

#include <string>

namespace wsring::server {

// The whole HTTP/1.1 200 response (headers and HTML), built once per reactor.
std::string make_echo_page_response();

}  // namespace wsring::server
