"""Autobahn category 4 (opcodes): RFC 6455 5.2, opcodes 0x3-0x7 (reserved non-control) and
0xB-0xF (reserved control): "If an unknown opcode is received, the receiving endpoint MUST
_Fail the WebSocket Connection_" (1002)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import OP_PING, OP_TEXT, ServerTestCase, build_frame  # noqa: E402

RESERVED_NON_CONTROL = [3, 4, 5, 6, 7]
RESERVED_CONTROL = [11, 12, 13, 14, 15]


class Opcodes(ServerTestCase):
    """4.1.x reserved non-control opcodes, 4.2.x reserved control opcodes."""


def _empty_case(opcode):
    def test(self):
        client = self.client()
        client.send(build_frame(opcode, b""))
        client.expect_close(1002)
    test.__doc__ = "RFC 6455 5.2: reserved opcode %d, empty payload -> 1002" % opcode
    return test


def _after_message_case(opcode):
    def test(self):
        client = self.client()
        client.send(build_frame(OP_TEXT, "valid first") + build_frame(opcode, b"reserved payload") +
                    build_frame(OP_PING, b"no pong"))
        _, _, before = client.expect_close(1002, allow_before=True)
        self.assertEqual([(m.opcode, m.payload) for m in before], [(OP_TEXT, b"valid first")])
    test.__doc__ = ("RFC 6455 5.2: text, reserved opcode %d with payload, ping in one write: "
                    "echo, then 1002, no pong" % opcode)
    return test


for _index, _opcode in enumerate(RESERVED_NON_CONTROL, 1):
    setattr(Opcodes, "test_4_1_%d_opcode_%d" % (_index, _opcode), _empty_case(_opcode))
    setattr(Opcodes, "test_4_1_%d_2_opcode_%d_after_text" % (_index, _opcode), _after_message_case(_opcode))
for _index, _opcode in enumerate(RESERVED_CONTROL, 1):
    setattr(Opcodes, "test_4_2_%d_opcode_%d" % (_index, _opcode), _empty_case(_opcode))
    setattr(Opcodes, "test_4_2_%d_2_opcode_%d_after_text" % (_index, _opcode), _after_message_case(_opcode))


if __name__ == "__main__":
    unittest.main()
