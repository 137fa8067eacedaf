// One Socket.IO 4 chat server holding everything in memory: the setup a developer builds instead
// of a durable, replicated one. Visitors emit `message`; the server relays it to every connected
// operator and acknowledges it to the sender. Nothing is stored, so whatever it holds dies with it.
//
// Started by run.js as a child with an IPC channel; it answers `count` with its connections, so
// the runner can kill the one the chats are on.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, {
  // Polling would need sticky sessions behind nginx; the comparison is about failover, so both
  // sides use WebSockets only.
  transports: ["websocket"],
});
let port = 0;

io.on("connection", (socket) => {
  socket.on("operator", () => socket.join("operators"));
  socket.on("message", (message, ack) => {
    io.to("operators").emit("message", message);
    if (typeof ack === "function") ack();
  });
});

process.on("message", (request) => {
  if (request === "count") process.send({ port, connections: io.engine.clientsCount });
});

// A port of the system's choosing, on loopback only; the runner learns it from the first message.
httpServer.listen(0, "127.0.0.1", () => {
  port = httpServer.address().port;
  if (process.send) process.send({ port, ready: true });
});
