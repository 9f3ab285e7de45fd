#include "server/shootout_app.hpp"

#include "server/shootout_protocol.hpp"

namespace wsring::server {

void ShootoutApp::on_data(Session& session, const core::ReadEvent& chunk) {
  std::string_view message;
  if (!assembler_.feed(session.token(), chunk, message)) return;
  answer(session, chunk.message_opcode, message);
}

void ShootoutApp::deliver_to_all(SharedFrame& frame) {
  fanout_->deliver_all(open_.tokens(), frame);
}

void ShootoutApp::answer(Session& session, core::Opcode opcode, std::string_view message) {
  const bool binary = opcode == core::Opcode::Binary;
  ShootoutRequest request;
  if (const char* error = binary ? parse_shootout_binary(message, request) : parse_shootout_json(message, request)) {
    session.close(core::close_code::policy_violation, error);
    return;
  }
  if (request.kind == ShootoutKind::Echo) {
    if (binary) {
      session.send(opcode, message.data(), message.size());
      return;
    }
    reply_.assign("{\"type\":\"echo\",\"payload\":").append(request.payload).append("}");
    session.send(opcode, reply_.data(), reply_.size());
    return;
  }
  SharedFrame* frame = binary ? fanout_->frame(opcode, {message})
                              : fanout_->frame(opcode, {"{\"type\":\"broadcast\",\"payload\":", request.payload, "}"});
  if (!frame) {  // --max-memory refused it
    session.close(core::close_code::internal_error, "shootout: out of memory for the broadcast");
    return;
  }
  deliver_to_all(*frame);
  fanout_->post_to_other_threads(*frame);
  frame->release();
  if (binary)
    reply_.assign("r").append(request.payload);
  else
    reply_.assign("{\"type\":\"broadcastResult\",\"payload\":").append(request.payload).append("}");
  session.send(opcode, reply_.data(), reply_.size());
}

}  // namespace wsring::server
