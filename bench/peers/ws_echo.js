// Echo server on node's ws, a peer for bench/compare.sh. Every message is echoed with its type.
// Run: NODE_PATH=/usr/share/nodejs node bench/peers/ws_echo.js [PORT] [deflate]   (Debian: nodejs, node-ws)
// "deflate" accepts permessage-deflate with ws's defaults (context takeover both ways, 15-bit
// windows, zlib's default level) except the threshold: 0, so that short replies are compressed too.
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 9003);
const perMessageDeflate = process.argv[3] === 'deflate' ? { threshold: 0 } : false;
const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate, maxPayload: 256 * 1024 * 1024 });
server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', () => socket.terminate());
});
server.on('listening', () => console.error(`ws echo listening on 127.0.0.1:${port}`));
