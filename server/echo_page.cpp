#include "server/echo_page.hpp"

namespace wsring::server {

namespace {

const char kPage[] = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wsring echo</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
#log { border: 1px solid #ccc; height: 18rem; overflow-y: auto; padding: .5rem; font-family: monospace; white-space: pre-wrap; }
input[type=text] { width: 70%; }
.sent { color: #245; } .recv { color: #262; } .info { color: #777; }
</style>
</head>
<body>
<h1>wsring echo</h1>
<p>This server echoes every WebSocket message back. Connect, type a message, send it.</p>
<p><button id="open">Connect</button> <button id="close" disabled>Disconnect</button> <span id="state" class="info">not connected</span></p>
<p><input id="text" type="text" value="Hello, wsring!" autocomplete="off"> <button id="send" disabled>Send</button></p>
<div id="log"></div>
<script>
"use strict";
let ws = null;
const $ = (id) => document.getElementById(id);
function log(cls, text) {
  const line = document.createElement("div");
  line.className = cls;
  line.textContent = text;
  $("log").appendChild(line);
  $("log").scrollTop = $("log").scrollHeight;
}
function setConnected(on) {
  $("open").disabled = on; $("close").disabled = !on; $("send").disabled = !on;
  $("state").textContent = on ? "connected" : "not connected";
}
$("open").onclick = () => {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  ws = new WebSocket(scheme + location.host + location.pathname + location.search);
  ws.onopen = () => { setConnected(true); log("info", "open " + ws.url); };
  ws.onmessage = (e) => log("recv", "< " + e.data);
  ws.onclose = (e) => { setConnected(false); log("info", "closed: code " + e.code + (e.reason ? " (" + e.reason + ")" : "")); ws = null; };
  ws.onerror = () => log("info", "error");
};
$("close").onclick = () => { if (ws) ws.close(1000, "bye"); };
$("send").onclick = () => {
  if (!ws) return;
  const text = $("text").value;
  ws.send(text);
  log("sent", "> " + text);
};
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter") $("send").click(); });
// ?selftest: echo a text message (non-ASCII included) and a binary one, then write PASS or
// FAIL with details into #selftest (read by the browser test). Without it, nothing runs.
if (new URLSearchParams(location.search).has("selftest")) {
  const out = document.createElement("pre");
  out.id = "selftest";
  out.textContent = "RUNNING";
  document.body.appendChild(out);
  const done = (verdict) => { if (out.textContent === "RUNNING") out.textContent = verdict; };
  const text = "h\u00e9llo w\u00f6rld \u2713 \ud83d\ude00 \u65e5\u672c";
  const binary = new Uint8Array(300);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 7) & 255;
  setTimeout(() => done("FAIL: timeout"), 10000);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const t = new WebSocket(scheme + location.host + location.pathname);
  t.binaryType = "arraybuffer";
  const got = [];
  t.onopen = () => { t.send(text); t.send(binary); };
  t.onerror = () => done("FAIL: WebSocket error");
  t.onclose = (e) => done("FAIL: closed early with " + e.code);
  t.onmessage = (e) => {
    got.push(e.data);
    if (got.length < 2) return;
    const echoed = new Uint8Array(got[1] instanceof ArrayBuffer ? got[1] : new ArrayBuffer(0));
    const textOk = got[0] === text;
    const binaryOk = echoed.length === binary.length && echoed.every((b, i) => b === binary[i]);
    t.onclose = null;
    t.close(1000, "selftest done");
    done(textOk && binaryOk ? "PASS text " + text.length + " chars, binary " + echoed.length + " bytes, " + scheme
         : "FAIL: text " + (textOk ? "ok" : JSON.stringify(got[0])) + ", binary " + (binaryOk ? "ok" : echoed.length + " bytes"));
  };
}
</script>
</body>
</html>
)html";

}  // namespace

std::string make_echo_page_response() {
  const std::string body(kPage, sizeof kPage - 1);
  return "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace wsring::server
