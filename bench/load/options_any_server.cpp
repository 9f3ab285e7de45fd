// wsring-load's flags for loading any server (headers, origin, subprotocols, a bearer token),
// reply matching, message mixes and reconnects; parse_load_args hands them here.
#include "bench/load/options.hpp"

#include <strings.h>

#include <algorithm>

namespace wsring::load {

const char kDefaultIdTemplate[] = "{\"id\":{id},\"method\":\"echo\",\"params\":{\"seq\":{seq},\"ts_ns\":{ts_ns}}}";

const char kAnyServerUsage[] =
    "\n"
    "Any server, mixes, reconnects (bench/README.md):\n"
    "  -c N, -d DURATION, -t T   short for --connections, --duration, --threads\n"
    "  --header 'Name: value'    add a header to the upgrade request (repeatable; not Host, Upgrade,\n"
    "                            Connection, Sec-WebSocket-*)\n"
    "  --origin ORIGIN           send Origin: ORIGIN\n"
    "  --subprotocol NAME        offer NAME in Sec-WebSocket-Protocol (repeatable); the server's\n"
    "                            choice must be one of those offered\n"
    "  --token-file FILE         send Authorization: Bearer <the file's content>; never printed\n"
    "  --token-env NAME          the same, from the environment variable NAME\n"
    "  --match echo|count|none   echo: byte-exact echoes (default); count: any reply answers the\n"
    "                            oldest message outstanding; none: send only, no reply expected\n"
    "  --match id                a correlation id ({id} in the message) is found in the reply's first\n"
    "                            256 bytes as \"id\": N; default message {\"id\":{id},\"method\":\"echo\",...}\n"
    "  --message TEMPLATE        message body with placeholders {seq} {conn} {id} {ts_ns} (repeatable,\n"
    "                            round-robin); needs --match count, id or none\n"
    "  --messages-file FILE      one message template per line (JSON lines), round-robin\n"
    "  --text-ratio R            share of text messages, 0 to 1 (the rest binary)\n"
    "  --stage DURATION:TARGETS  a stage, e.g. 30s:1000c or 10s:100c:5000r (repeatable): connections\n"
    "                            and/or rate move linearly to the targets over the stage, from 0 at\n"
    "                            the start; sets the connections and the duration; with rates the\n"
    "                            run is open loop, without them closed loop (--pipeline)\n"
    "  --reconnect               reopen a connection the server closed or that failed, with back-off\n"
    "  --json -                  the JSON report on stdout (the summary then goes to stderr)\n";

AnyServerFlag parse_any_server_flag(std::string_view name, std::string_view value, LoadOptions& o,
                                    std::string& error) {
  const std::string flag(name);
  const std::string shown = cli::quoted(value);
  if (name == "--header") {
    std::string header_name, header_value;
    if (!parse_header_option(value, header_name, header_value, error)) {
      error = "--header: " + error;
      return AnyServerFlag::Bad;
    }
    o.upgrade.header_names.push_back(std::move(header_name));
    o.upgrade.header_values.push_back(std::move(header_value));
  } else if (name == "--origin") {
    for (unsigned char c : value)
      if (c < 0x20 || c == 0x7F) value = {};
    if (value.empty()) {
      error = "--origin: expected an origin such as https://example.com (no control characters), got " + shown;
      return AnyServerFlag::Bad;
    }
    o.upgrade.origin = std::string(value);
  } else if (name == "--subprotocol") {
    if (!is_http_token(value)) {
      error = "--subprotocol: expected a token (letters, digits, !#$%&'*+-.^_`|~), got " + shown;
      return AnyServerFlag::Bad;
    }
    for (const std::string& s : o.upgrade.subprotocols)
      if (s == value) {
        error = "--subprotocol: " + shown + " is offered twice";
        return AnyServerFlag::Bad;
      }
    o.upgrade.subprotocols.emplace_back(value);
  } else if (name == "--token-file" || name == "--token-env") {
    if (!o.upgrade.token_source.empty()) {
      error = flag + ": give one of --token-file and --token-env, once";
      return AnyServerFlag::Bad;
    }
    const std::string where(value);
    const bool ok = name == "--token-file" ? read_token_file(where, o.upgrade.bearer_token, error)
                                           : read_token_env(where, o.upgrade.bearer_token, error);
    if (!ok) {
      error = flag + ": " + error;
      return AnyServerFlag::Bad;
    }
    o.upgrade.token_source = (name == "--token-file" ? "file " : "environment ") + where;
  } else if (name == "--match") {
    if (!parse_match_mode(value, o.match)) {
      error = "--match: expected echo, count, id or none, got " + shown;
      return AnyServerFlag::Bad;
    }
  } else if (name == "--message" || name == "--messages-file") {
    const bool ok = name == "--message" ? o.messages_from.add_template(value, error)
                                        : o.messages_from.load_file(std::string(value), error);
    if (!ok) {
      error = flag + ": " + error;
      return AnyServerFlag::Bad;
    }
  } else if (name == "--stage") {
    Stage stage;
    if (!parse_stage(value, stage, error)) {
      error = "--stage: " + error;
      return AnyServerFlag::Bad;
    }
    if (o.stages.size() >= 1000) {
      error = "--stage: at most 1000 stages";
      return AnyServerFlag::Bad;
    }
    o.stages.add(stage);
  } else if (name == "--text-ratio") {
    if (!TextRatio::parse(value, o.text_ratio, error)) {
      error = "--text-ratio: " + error;
      return AnyServerFlag::Bad;
    }
  } else {
    return AnyServerFlag::NotMine;
  }
  return AnyServerFlag::Done;
}

bool is_any_server_valued_flag(std::string_view name) {
  return name == "--header" || name == "--origin" || name == "--subprotocol" || name == "--token-file" ||
         name == "--token-env" || name == "--match" || name == "--text-ratio" || name == "--stage" ||
         name == "--message" || name == "--messages-file";
}

std::string check_any_server_options(LoadOptions& o, bool saw_text_or_binary, bool saw_duration_or_messages) {
  if (o.match == MatchMode::Id && o.messages_from.empty()) {
    std::string unused;
    o.messages_from.add_template(kDefaultIdTemplate, unused);
  }
  if (!o.messages_from.empty()) {
    if (o.match == MatchMode::Echo)
      return "--match: echo checks wsring-load's own stamped payloads; with --message/--messages-file use count, id "
             "or none";
    if (o.match == MatchMode::Id && !o.messages_from.every_template_has_id())
      return "--match: id needs {id} in every message template";
    if (!o.sizes.fixed() || o.sizes.min() != 32) return "--size: not with --message/--messages-file";
    if (o.text_ratio >= 0) return "--text-ratio: not with --message/--messages-file";
    if (o.deflate) return "--deflate: not with --message/--messages-file (it compresses wsring-load's own payloads)";
    if (!saw_text_or_binary) o.text = true;  // templates are text unless --binary says otherwise
    o.size_min = 1;
    o.size_max = std::max<uint64_t>(kMinMessageSize, o.messages_from.max_size());
  }
  if (!o.stages.empty()) {
    if (saw_duration_or_messages) return "--stage: not with --duration or --messages (the stages set the length)";
    if (o.rate > 0) return "--stage: not with --rate (give each stage a rate, e.g. 30s:100c:5000r)";
    if (o.ramp_up_s > 0) return "--stage: not with --ramp-up (a stage ramps)";
    if (o.handshake_only) return "--stage: not with --handshake-only";
    if (o.stages.max_connections() == 0) return "--stage: no stage asks for a connection (e.g. 30s:100c)";
    if (o.stages.duration_s() < 0.001) return "--stage: the stages last less than 1ms in all";
    o.connections = o.stages.max_connections();
    o.duration_s = o.stages.duration_s();
  }
  if (o.text_ratio >= 0 && saw_text_or_binary) return "--text-ratio: not with --text or --binary (it sets the mix)";
  if (!o.upgrade.bearer_token.empty())
    for (const std::string& n : o.upgrade.header_names)
      if (n.size() == 13 && strncasecmp(n.c_str(), "Authorization", 13) == 0)
        return "--header: Authorization is set by --token-file/--token-env already";
  if (o.handshake_only && o.match != MatchMode::Echo) return "--match: not with --handshake-only (no messages)";
  if (o.handshake_only && o.reconnect) return "--reconnect: not with --handshake-only (which reconnects anyway)";
  return {};
}

}  // namespace wsring::load
