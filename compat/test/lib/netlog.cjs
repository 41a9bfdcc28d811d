// Preloaded into a tool's node processes (NODE_OPTIONS=--require …) to
// record where they connect: every outgoing TCP connection and every DNS
// lookup, appended as JSON lines to $EDGEINFER_NETLOG. Child node processes
// inherit NODE_OPTIONS, so a whole tool is covered. Tests read the file to
// prove nothing left loopback.
"use strict";
const fs = require("node:fs");
const net = require("node:net");
const dns = require("node:dns");

const file = process.env.EDGEINFER_NETLOG;
if (file) {
  const record = (entry) => {
    try {
      fs.appendFileSync(file, JSON.stringify({ pid: process.pid, node: process.version, ...entry }) + "\n");
    } catch {
      // a log that cannot be written must not break the tool under test
    }
  };

  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    let opts = args[0];
    if (Array.isArray(opts)) opts = opts[0]; // the internal normalized form
    if (opts && typeof opts === "object") {
      if (opts.path) record({ kind: "connect", path: String(opts.path) });
      else record({ kind: "connect", host: opts.host ?? "localhost", port: Number(opts.port) });
    } else if (typeof opts === "number" || (typeof opts === "string" && /^\d+$/.test(opts))) {
      record({ kind: "connect", host: typeof args[1] === "string" ? args[1] : "localhost", port: Number(opts) });
    } else if (typeof opts === "string") {
      record({ kind: "connect", path: opts });
    }
    return connect.apply(this, args);
  };

  const lookup = dns.lookup;
  dns.lookup = function (hostname, ...rest) {
    record({ kind: "lookup", host: hostname });
    return lookup.call(this, hostname, ...rest);
  };
  const plookup = dns.promises.lookup;
  dns.promises.lookup = function (hostname, ...rest) {
    record({ kind: "lookup", host: hostname });
    return plookup.call(this, hostname, ...rest);
  };
}
