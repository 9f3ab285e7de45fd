// Test support: wsring-load's command line parsed from a list of arguments (load_options_test,
// load_scenario_*_test).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/load/options.hpp"

namespace wsring::load::options_test {

struct Parsed {
  ParseOutcome outcome;
  LoadOptions options;
  std::string message;
};

// "wsring-load args..." as given (the URL too).
inline Parsed parse(std::vector<std::string> args) {
  std::vector<const char*> argv{"wsring-load"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  Parsed p;
  p.outcome = parse_load_args(int(argv.size()), argv.data(), p.options, p.message);
  return p;
}

// A URL, then `args`; expected to parse.
inline Parsed parse_ok(std::vector<std::string> args) {
  args.insert(args.begin(), "ws://127.0.0.1:9001/echo");
  Parsed p = parse(args);
  EXPECT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  return p;
}

// A bad value: BadUsage, one line, and the line names the flag.
inline void expect_bad(std::vector<std::string> args, const std::string& flag,
                       const char* url = "ws://127.0.0.1:9001/") {
  args.insert(args.begin(), url);
  Parsed p = parse(args);
  std::string shown;
  for (const std::string& a : args) shown += a + " ";
  EXPECT_EQ(p.outcome, ParseOutcome::BadUsage) << shown;
  EXPECT_NE(p.message.find(flag), std::string::npos) << shown << "-> " << p.message;
  EXPECT_EQ(p.message.find('\n'), std::string::npos) << p.message;
}

}  // namespace wsring::load::options_test
