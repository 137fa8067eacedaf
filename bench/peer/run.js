// The peer beside us: two Socket.IO servers (server.js, in memory) behind nginx with the second
// as a `backup` upstream, under the bench's failover workload: `chats` visitors each write every
// 100 ms to one operator, and after 3 s the primary server is killed (SIGKILL). Each round is a
// fresh setup, because nginx has no failback: once the chats are on the backup they stay there,
// and in trials here a second kill (of the backup, with the restarted primary up) left nginx
// answering "no live upstreams" for the backup's fail_timeout. Writes one JSON document: per round
// the resume times, messages written, lost (never delivered to the operator) and doubled; and
// the first round's latencies, into <work dir>/result.json.
//
// Usage: node run.js <nginx binary> <work dir> <chats> <rounds>
"use strict";

const { spawn, fork } = require("child_process");
const fs = require("fs");
const net = require("net");
const path = require("path");
const { io } = require("socket.io-client");

const [nginxBin, workDir, chatsArg, roundsArg] = process.argv.slice(2);
const chats = Number(chatsArg);
const rounds = Number(roundsArg);
const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Starts a server on a port of its own choosing and resolves to it and its port, once it
// listens. (Ports chosen here and then bound by the child could be taken in between: a round
// once failed with EADDRINUSE right after the bench's own phases.)
function startServer() {
  const child = fork(path.join(__dirname, "server.js"), [], { stdio: "inherit" });
  return new Promise((resolve) => {
    child.once("message", ({ port }) => resolve({ child, port }));
  });
}

function nginxConfig(dir, front, primary, backup) {
  return `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream chat {
    server 127.0.0.1:${primary} max_fails=1 fail_timeout=2s;
    server 127.0.0.1:${backup} backup;
  }
  server {
    listen 127.0.0.1:${front};
    location / {
      proxy_pass http://chat;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_connect_timeout 1s;
      proxy_read_timeout 1h;
      proxy_next_upstream error timeout;
    }
  }
}
`;
}

async function reachable(port) {
  return new Promise((resolve) => {
    const probe = net.connect(port, "127.0.0.1", () => {
      probe.destroy();
      resolve(true);
    });
    probe.on("error", () => resolve(false));
  });
}

// One round on a fresh setup; resolves to its figures.
async function round(index) {
  const dir = path.join(workDir, `round-${index}`);
  fs.mkdirSync(dir, { recursive: true });
  const started = [await startServer(), await startServer()];
  const servers = started.map(({ child }) => child);
  const [primary, backup] = started.map(({ port }) => port);
  const front = await freePort();
  const conf = path.join(dir, "nginx.conf");
  fs.writeFileSync(conf, nginxConfig(dir, front, primary, backup));
  const nginx = spawn(nginxBin, ["-p", dir, "-c", conf, "-e", path.join(dir, "error.log"), "-g", "daemon off;"], {
    stdio: "inherit",
  });
  for (let tries = 0; tries < 50 && !(await reachable(front)); tries++) await sleep(100);
  const open = () =>
    io(`ws://127.0.0.1:${front}`, { transports: ["websocket"], forceNew: true, reconnectionDelayMax: 5000 });

  // What the operator received: per chat, the sequence numbers seen; every delivery's time.
  const received = Array.from({ length: chats }, () => new Set());
  const deliveries = [];
  const latencies = [];
  let duplicates = 0;
  const operator = open();
  operator.on("connect", () => operator.emit("operator"));
  operator.on("message", ({ chat, seq, sent }) => {
    const at = now();
    if (received[chat].has(seq)) duplicates += 1;
    received[chat].add(seq);
    deliveries.push([chat, at]);
    latencies.push([sent, at - sent]);
  });
  await sleep(500);

  const written = new Array(chats).fill(0);
  let writing = true;
  const visitors = [];
  for (let chat = 0; chat < chats; chat++) {
    const socket = open();
    visitors.push(socket);
    setTimeout(function write() {
      if (!writing) return;
      // socket.io-client keeps what is emitted while disconnected and sends it after the
      // reconnect: the buffering a developer gets for free.
      socket.emit("message", { chat, seq: written[chat], sent: now() });
      written[chat] += 1;
      setTimeout(write, 100);
    }, (100 * chat) / chats);
  }
  await sleep(3000);

  const live = new Set(deliveries.filter(([, at]) => at >= now() - 1000).map(([chat]) => chat));
  const killedAt = now();
  servers[0].kill("SIGKILL");
  await sleep(5000);
  writing = false;
  // What is still buffered or in flight gets time to arrive.
  await sleep(2000);

  const first = new Map();
  for (const [chat, at] of deliveries) {
    if (at > killedAt && live.has(chat) && !first.has(chat)) first.set(chat, at - killedAt);
  }
  const total = written.reduce((a, b) => a + b, 0);
  const delivered = received.reduce((sum, seen) => sum + seen.size, 0);
  for (const socket of [operator, ...visitors]) socket.close();
  // SIGTERM lets nginx's master stop its worker; a killed master would leave the worker behind.
  const stopped = new Promise((resolve) => nginx.once("exit", resolve));
  nginx.kill("SIGTERM");
  await stopped;
  for (const child of servers) child.kill("SIGKILL");
  console.error(`  peer round ${index + 1}: ${live.size} chats live, ${first.size} resumed, ${total - delivered} of ${total} messages lost`);
  return {
    written: total,
    lost: total - delivered,
    duplicates,
    resume_ms: [...first.values()],
    latencies: latencies
      .filter(([sent]) => sent >= killedAt - 3000 && sent <= killedAt + 4000)
      .map(([sent, latency]) => [sent - killedAt, latency]),
  };
}

async function main() {
  const results = [];
  for (let index = 0; index < rounds; index++) results.push(await round(index));
  // A file, not stdout: node writes to a pipe asynchronously, and exiting would cut it short.
  fs.writeFileSync(path.join(workDir, "result.json"), JSON.stringify({
    rounds: results.map(({ written, lost, duplicates, resume_ms }) => ({ written, lost, duplicates, resume_ms })),
    first_round: results.length ? results[0].latencies : [],
  }));
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
