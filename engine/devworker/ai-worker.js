// edgeinfer's stand-in for the Workers AI binding during local development.
//
// `edgeinfer dev` binds a Worker's AI binding to the entrypoint below with a
// service binding, so `env.AI.run(...)` in unchanged Worker code becomes an RPC
// call here, and this Worker sends it to edgeinfer over HTTP in the binding
// protocol workerd's own Ai class speaks (POST /run?version=3, the model in
// cf-consn-model-id, the body {inputs, options}). Results come back as that
// class returns them: the parsed JSON, the response body as a stream, the
// Response itself with returnRawResponse, or an InferenceUpstreamError.
//
// Configured by two vars that `edgeinfer dev` writes:
//   EDGEINFER_URL          edgeinfer's base URL, e.g. http://127.0.0.1:8790
//   EDGEINFER_ERROR_NAMES  "false" when the calling Worker's compatibility date
//                          predates enhanced_error_serialization: an error's
//                          name then reaches it folded into the message
//                          ("InferenceUpstreamError: 5006: …"), so plain Errors
//                          are thrown to keep the message as Workers AI words it.
// and one optional secret-like var, EDGEINFER_API_TOKEN, sent as a bearer token.
import { RpcTarget, WorkerEntrypoint } from "cloudflare:workers";

const SDK_VERSION = "2.0.0";

export class InferenceUpstreamError extends Error {
  constructor(message, name = "InferenceUpstreamError") {
    super(message);
    this.name = name;
  }
}

export class AiInternalError extends Error {
  constructor(message) {
    super(message);
    this.name = "AiInternalError";
  }
}

export class AiGatewayInternalError extends Error {
  constructor(message) {
    super(message);
    this.name = "AiGatewayInternalError";
  }
}

export class AiGatewayLogNotFound extends Error {
  constructor(message) {
    super(message);
    this.name = "AiGatewayLogNotFound";
  }
}

// edgeinfer is reached through one small client per call.
class Engine {
  constructor(env) {
    this.base = String(env.EDGEINFER_URL ?? "").replace(/\/+$/, "");
    this.token = env.EDGEINFER_API_TOKEN;
    this.errorNames = env.EDGEINFER_ERROR_NAMES !== "false";
    if (!this.base) throw new AiInternalError("edgeinfer dev worker: EDGEINFER_URL is not set");
  }

  fetch(pathAndQuery, init = {}) {
    const headers = new Headers(init.headers);
    if (this.token && !headers.has("authorization")) headers.set("authorization", `Bearer ${this.token}`);
    return fetch(`${this.base}${pathAndQuery}`, { ...init, headers });
  }

  // error returns err, or a plain Error with its message when the caller
  // would not receive the name (see EDGEINFER_ERROR_NAMES above).
  error(err) {
    return this.errorNames ? err : new Error(err.message);
  }
}

function isStreamInput(value) {
  if (value instanceof ReadableStream) return true;
  return value !== null && typeof value === "object" && value.body instanceof ReadableStream;
}

// The options that configure the call locally and are not sent.
function sentOptions(options) {
  const { prefix: _p, extraHeaders: _e, sessionOptions: _s, signal: _g, ...rest } = options;
  return rest;
}

function modelHeader(model, options) {
  return options.prefix ? `${options.prefix}:${model}` : model;
}

async function upstreamError(res) {
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return new InferenceUpstreamError(text);
  }
  if (body?.internalCode) return new InferenceUpstreamError(`${body.internalCode}: ${body.description}`, body.name);
  const first = body?.errors?.[0];
  if (first) return new InferenceUpstreamError(`${first.code}: ${first.message}`);
  return new InferenceUpstreamError(text);
}

async function gatewayError(res, ErrorClass = AiGatewayInternalError, fallback = "Internal Error") {
  const text = await res.text();
  try {
    return new ErrorClass(JSON.parse(text).errors?.[0]?.message || fallback);
  } catch {
    return new AiGatewayInternalError(text);
  }
}

function gatewayHeaders(gateway, extraHeaders) {
  const h = new Headers({ "content-type": "application/json" });
  if (gateway) {
    if (gateway.skipCache !== undefined) h.set("cf-aig-skip-cache", String(Boolean(gateway.skipCache)));
    if (gateway.cacheTtl) h.set("cf-aig-cache-ttl", String(gateway.cacheTtl));
    if (gateway.metadata) h.set("cf-aig-metadata", JSON.stringify(gateway.metadata));
    if (gateway.cacheKey) h.set("cf-aig-cache-key", gateway.cacheKey);
    if (gateway.collectLog !== undefined) h.set("cf-aig-collect-log", String(Boolean(gateway.collectLog)));
    if (gateway.eventId !== undefined) h.set("cf-aig-event-id", gateway.eventId);
    if (gateway.requestTimeoutMs !== undefined) h.set("cf-aig-request-timeout", String(gateway.requestTimeoutMs));
    const r = gateway.retries;
    if (r?.maxAttempts !== undefined) h.set("cf-aig-max-attempts", String(r.maxAttempts));
    if (r?.retryDelayMs !== undefined) h.set("cf-aig-retry-delay", String(r.retryDelayMs));
    if (r?.backoff !== undefined) h.set("cf-aig-backoff", r.backoff);
  }
  for (const [k, v] of Object.entries(extraHeaders ?? {})) h.set(k, v);
  return h;
}

// What env.AI.gateway(id) returns: an RPC target with AiGateway's methods.
class Gateway extends RpcTarget {
  #engine;
  #id;

  constructor(engine, id) {
    super();
    this.#engine = engine;
    this.#id = id;
  }

  async getUrl(provider) {
    const res = await this.#engine.fetch(`/ai-gateway/gateways/${this.#id}/url/${provider ?? "universal"}`);
    if (!res.ok) throw this.#engine.error(await gatewayError(res));
    return (await res.json()).result.url;
  }

  async getLog(logId) {
    const res = await this.#engine.fetch(`/ai-gateway/gateways/${this.#id}/logs/${logId}`);
    if (res.status === 200) {
      const { result } = await res.json();
      return { ...result, created_at: new Date(result.created_at) };
    }
    throw this.#engine.error(await gatewayError(res, res.status === 404 ? AiGatewayLogNotFound : AiGatewayInternalError, res.status === 404 ? "Log Not Found" : undefined));
  }

  async patchLog(logId, data) {
    const res = await this.#engine.fetch(`/ai-gateway/gateways/${this.#id}/logs/${logId}`, {
      method: "PATCH",
      body: JSON.stringify(data),
      headers: { "content-type": "application/json" },
    });
    if (res.status === 200) return;
    throw this.#engine.error(await gatewayError(res, res.status === 404 ? AiGatewayLogNotFound : AiGatewayInternalError, res.status === 404 ? "Log Not Found" : undefined));
  }

  run(data, options) {
    const requests = (Array.isArray(data) ? data : [data]).map((req) => ({
      ...req,
      headers: Object.fromEntries(
        Object.entries(req.headers ?? {}).map(([k, v]) => [k, v !== null && typeof v === "object" ? JSON.stringify(v) : String(v)]),
      ),
    }));
    return this.#engine.fetch(`/ai-gateway/universal/run/${this.#id}`, {
      method: "POST",
      body: JSON.stringify(requests),
      headers: gatewayHeaders(options?.gateway, options?.extraHeaders),
    });
  }
}

/** The entrypoint a Worker's AI binding is bound to: env.AI.run, models, gateway, fetch. */
export class EdgeinferAI extends WorkerEntrypoint {
  async run(model, inputs, options = {}) {
    const engine = new Engine(this.env);
    options ??= {};
    if (options.websocket) throw engine.error(new AiInternalError("edgeinfer does not serve the WebSocket variant of env.AI.run"));
    const sent = sentOptions(options);
    const headers = {
      ...options.sessionOptions?.extraHeaders,
      ...options.extraHeaders,
      "cf-consn-sdk-version": SDK_VERSION,
      "cf-consn-model-id": modelHeader(model, options),
    };
    const streamKeys = Object.keys(inputs ?? {}).filter((k) => isStreamInput(inputs[k]));
    let res;
    if (streamKeys.length > 1) {
      throw engine.error(new AiInternalError(`Multiple ReadableStreams are not supported. Found streams in keys: [${streamKeys.join(", ")}]`));
    } else if (streamKeys.length === 1) {
      // One binary input is the body; the others travel as ?userInputs=.
      const [key] = streamKeys;
      const { [key]: input, ...others } = inputs;
      if (sent.gateway?.id) throw engine.error(new AiInternalError("AI Gateway does not support ReadableStreams yet."));
      const body = input instanceof ReadableStream ? input : input.body;
      const contentType = input instanceof ReadableStream ? undefined : input.contentType;
      if (!contentType) throw engine.error(new AiInternalError("Content-Type is required with ReadableStream inputs"));
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries({ ...sent, version: "3", userInputs: JSON.stringify(others) })) query.set(k, v);
      res = await engine.fetch(`/run?${query}`, { method: "POST", body, headers: { ...headers, "content-type": contentType } });
    } else {
      const path = sent.gateway?.id ? "/ai-gateway/run?version=3" : "/run?version=3";
      res = await engine.fetch(path, {
        method: "POST",
        body: JSON.stringify({ inputs, options: sent }),
        headers: { ...headers, "content-type": "application/json" },
      });
    }
    if (options.returnRawResponse) return res;
    if (!res.ok || !res.body) throw engine.error(await upstreamError(res));
    // Exactly application/json is a JSON result; anything else (an event
    // stream, audio, an image) reaches the Worker as the raw stream.
    if (res.headers.get("content-type") === "application/json") return res.json();
    return res.body;
  }

  async models(params = {}) {
    const engine = new Engine(this.env);
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params ?? {})) query.set(k, String(v));
    const res = await engine.fetch(`/ai-api/models/search?${query}`);
    const body = await res.json();
    if (res.status === 200) return body.result;
    throw engine.error(new AiInternalError(body.errors?.[0]?.message || "Internal Error"));
  }

  gateway(gatewayId) {
    return new Gateway(new Engine(this.env), gatewayId);
  }

  // Deprecated on the real binding; kept so code that still calls it works.
  getLogs() {
    return [];
  }

  autorag() {
    throw new Engine(this.env).error(new AiInternalError("edgeinfer does not serve AutoRAG (env.AI.autorag)"));
  }

  toMarkdown() {
    throw new Engine(this.env).error(new AiInternalError("edgeinfer does not serve Markdown conversion (env.AI.toMarkdown)"));
  }

  // env.AI.fetch(url, init): the binding's raw fetcher, pointed at edgeinfer.
  fetch(request) {
    const url = new URL(request.url);
    return new Engine(this.env).fetch(url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
  }
}

export default {
  fetch() {
    return new Response("edgeinfer's Workers AI binding for local development; bind to the EdgeinferAI entrypoint.\n");
  },
};
