// The client library under Node.js, as a Node project uses it: this file is copied into a
// temporary project whose node_modules/gnp is the packed package, and run with `node`:
//
//   node node-client-scenarios.mjs SCENARIO '{"port":...,"pem":{...}}'
//
// Each scenario prints one JSON line with what it saw (codes and messages, never a stack),
// which test/client/node.test.ts compares; "kill me" is printed when the test should act.

import * as root from "gnp";
import { GnpError, connect, isGnpError } from "gnp/client";

const [scenario, configText] = process.argv.slice(2);
const config = JSON.parse(configText ?? "{}");
const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(String(reason)));

/** connect() with the test PKI's `as` certificate, trusting the test CA unless told otherwise. */
function open(as = "good", extra = {}) {
  const pem = config.pem;
  return connect({ port: config.port, cert: pem[as].cert, key: pem[as].key, ca: pem.ca, servername: "localhost", ...extra });
}

/** What a rejection carried: [code, message], or what went wrong instead. */
async function failure(promise) {
  try {
    await promise;
    return ["resolved"];
  } catch (error) {
    return isGnpError(error) ? [error.code, error.message] : [`not a GnpError: ${error}`];
  }
}

function thrown(fn) {
  try {
    fn();
    return "nothing thrown";
  } catch (error) {
    return error.constructor.name;
  }
}

const scenarios = {
  async calls() {
    const client = await open();
    const pong = await client.call("PING");
    const put = await client.call("PUT", ["node/1"], { body: JSON.stringify({ name: "Jö" }) });
    const get = await client.call("GET", ["node/1"]);
    const binary = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256);
    const echo = await client.call("ECHO", [], { body: binary });
    const missing = await failure(client.call("GET", ["node/none"]));
    const stillOpen = (await client.call("PING", [], { sequence: "mine-1" })).sequence;
    const misuse = [thrown(() => client.call("TWO WORDS")), thrown(() => client.call("GET", [], { timeout: -1 })), thrown(() => connect({ port: 0, cert: "x", key: "y" }))];
    await client.close();
    return {
      pong: [pong.status, pong.text(), pong.headers[0]?.[0], pong.header("size")],
      version: put.header("Version"),
      get: [get.json(), get.header("version")],
      echoed: echo.body.length === binary.length && echo.body.every((b, i) => b === binary[i]),
      missing,
      stillOpen,
      misuse,
      closed: (await client.closed) ?? "undefined",
      afterClose: await failure(client.call("PING")),
      sameRoot: root.connect === connect && root.GnpError === GnpError,
      errorClass: GnpError.name,
    };
  },

  async pipelining() {
    const client = await open();
    const replies = await Promise.all(Array.from({ length: 10_000 }, (_, i) => client.call("ECHO", [`n${i}`])));
    // More than the socket takes at once, one write per call (a microtask apart, so each call's
    // flush runs before the next call): a call made while node:tls wants a drain waits in the
    // client's queue, and only 'drain' sends it.
    const bodies = Array.from({ length: 16 }, (_, i) => new Uint8Array(900_000).fill(i + 1));
    const calls = [];
    for (const body of bodies) {
      calls.push(client.call("ECHO", [], { body }));
      await Promise.resolve();
    }
    const large = await Promise.all(calls);
    const pending = client.pending;
    await client.close();
    return {
      inOrder: replies.every((reply, i) => reply.text() === `n${i}`),
      sequences: new Set(replies.map((reply) => reply.sequence)).size,
      large: large.map((reply) => reply.body.length === 900_000 && reply.body.every((b) => b === reply.body[0]) && reply.body[0]),
      pending,
    };
  },

  async pushes() {
    const watcher = await open();
    const writer = await open();
    const seen = [];
    let sawBoth;
    const both = new Promise((resolve) => (sawBoth = resolve));
    const watch = await watcher.subscribe("WATCH", ["node/w/"], (push) => {
      seen.push([push.status, push.sequence === watch.sequence, push.header("Key"), push.header("Op"), push.header("Version"), push.text()]);
      if (seen.length === 2) sawBoth();
    });
    await writer.call("PUT", ["node/w/a"], { body: "one" });
    await writer.call("DEL", ["node/w/a"]);
    await both;
    watch.unsubscribe();
    const unwatched = (await watcher.call("UNWATCH", [watch.sequence])).status;
    await writer.call("PUT", ["node/w/b"], { body: "two" });
    // A PING after the PUT: its reply comes after any push the PUT would have caused.
    await watcher.call("PING");
    await Promise.all([watcher.close(), writer.close()]);
    return { ok: watch.reply.status, seen, unwatched };
  },

  async refusal() {
    const reasons = [];
    for (const as of ["unknown", "expired"]) {
      const [code, message] = await failure(open(as));
      reasons.push([code, message.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, "<date>").replace(/[0-9A-F]{40}/, "<sha1>")]);
    }
    return { reasons };
  },

  async certificateMistakes() {
    const prefix = (result) => [result[0], result[1]?.startsWith("server certificate rejected: ")];
    const wrongCa = prefix(await failure(open("good", { ca: config.pem.otherCa })));
    const wrongName = prefix(await failure(open("good", { servername: "not-the-server.example" })));
    const systemRoots = prefix(await failure(open("good", { ca: undefined })));
    const insecure = await open("good", { ca: undefined, insecure: true });
    const pong = (await insecure.call("PING")).text();
    await insecure.close();
    return { wrongCa, wrongName, systemRoots, insecure: pong, bothCaAndInsecure: thrown(() => open("good", { insecure: true })) };
  },

  async connectFailures() {
    const closed = await failure(connect({ port: config.closedPort, cert: config.pem.good.cert, key: config.pem.good.key, ca: config.pem.ca }));
    const silent = await failure(open("good", { timeout: 50, port: config.silentPort }));
    const garbage = await open("good", { port: config.garbagePort });
    const badReply = await failure(garbage.call("PING"));
    const plainHttp = await failure(open("good", { port: config.plainHttpPort }));
    return { closed: [closed[0], closed[1].startsWith(`could not connect to 127.0.0.1:${config.closedPort}: connection refused`)], silent, badReply, plainHttp };
  },

  async timeout() {
    const client = await open();
    const [code, message] = await failure(client.call("HANG", [], { timeout: 30 }));
    const after = (await client.call("PING")).text();
    client.terminate();
    return { code, named: message.includes("HANG (Sequence"), after };
  },

  async serverCloses() {
    const client = await open();
    const hanging = Array.from({ length: 3 }, () => failure(client.call("HANG")));
    const kick = await failure(client.call("KICK"));
    const calls = await Promise.all(hanging);
    const ended = await client.closed;
    return { kick, calls, closed: [ended?.code, ended?.message], after: await failure(client.call("PING")) };
  },

  async serverKilled() {
    const client = await connect({ port: config.port, cert: config.pem.cert, key: config.pem.key, ca: config.pem.ca });
    const calls = Array.from({ length: 5 }, () => failure(client.call("HANG")));
    await client.call("PING"); // the HANGs were read before this reply: they are in flight
    console.log("kill me");
    const errors = await Promise.all(calls);
    return { codes: errors.map(([code]) => code), message: errors[0][1].replace(/:\d+ /, ":PORT ") };
  },
};

const run = scenarios[scenario];
if (run === undefined) throw new Error(`unknown scenario ${JSON.stringify(scenario)}`);
const result = await run();
// Rejections nobody handled surface after a turn of the event loop.
await new Promise((resolve) => setTimeout(resolve, 10));
console.log(JSON.stringify({ ...result, unhandled }));
