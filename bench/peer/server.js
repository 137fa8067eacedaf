// One Socket.IO 4 chat server holding everything in memory: the setup a developer builds instead
// of a durable, replicated one. Visitors emit `message`; the server relays it to every connected
// operator and acknowledges it to the sender. Nothing is stored, so whatever it holds dies with it.
//
// Started by run.js as a child with an IPC channel; it answers `count` with its connections, so
// the runner can kill the one the chats are on.
"use strict";

const { Server } = require("socket.io");

const port = Number(process.argv[2]);
const io = new Server(port, {
  // Polling would need sticky sessions behind nginx; the comparison is about failover, so both
  // sides use WebSockets only.
  transports: ["websocket"],
});

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

if (process.send) process.send({ port, ready: true });
