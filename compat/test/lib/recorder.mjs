// A loopback HTTP relay that records each request's method and path and
// passes it, streamed both ways, to edgeinfer. Tests put it between a client
// and edgeinfer to see exactly which routes the client calls.
import http from "node:http";
import { engineURL } from "./edgeinfer.mjs";

/**
 * Starts the relay; returns {url, requests: [{method, path}], close()}. With
 * {bodies: true} each request also records its headers and its body as text.
 */
export async function startRecorder({ bodies = false } = {}) {
  const target = new URL(engineURL);
  const requests = [];
  const server = http.createServer((req, res) => {
    const entry = { method: req.method, path: req.url };
    requests.push(entry);
    if (bodies) {
      entry.headers = req.headers;
      const chunks = [];
      req.on("data", (b) => chunks.push(b));
      req.on("end", () => (entry.body = Buffer.concat(chunks).toString("utf8")));
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`relay: ${err.message}`);
    });
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
