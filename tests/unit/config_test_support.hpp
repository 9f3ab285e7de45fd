// Test support: wsring-echo's command line parsed from a list of arguments.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "server/config.hpp"

namespace wsring::server::config_test {

// Runs parse_command_line on "wsring-echo args...", with argv as a real, writable array
// (getopt permutes it).
struct Parse {
  Config config;
  std::string message;
  ParseOutcome outcome;

  explicit Parse(std::initializer_list<std::string> args) {
    std::vector<std::string> storage{"wsring-echo"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    outcome = parse_command_line(int(storage.size()), argv.data(), config, message);
  }
};

}  // namespace wsring::server::config_test
