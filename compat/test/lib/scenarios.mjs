// What each example Worker (compat/workers/) must do, whatever runs it:
// workerd, wrangler dev or miniflare. Each function registers node:test
// cases against the base URL that url() returns once the runtime is up.
import assert from "node:assert/strict";
import { it } from "node:test";
import { assertClassifications, assertEmbeddings, assertGeneration, MODELS } from "./edgeinfer.mjs";
import { directEmbeddings, postJSON } from "./http.mjs";
import { gradientPNG } from "./png.mjs";
import { workersAIStreamText } from "./sse.mjs";

/**
 * compat/workers/ai-service.js. With rpcBinding, env.AI is a service binding
 * (edgeinfer dev's AI worker): a thrown error arrives as an Error of the same
 * name and message (its class is not carried over RPC), and the binding's
 * lastRequest* properties are RPC stubs, not numbers.
 */
export function serviceWorkerCases(url, { rpcBinding = false } = {}) {
  it("/embeddings returns {shape, data}", async () => {
    const { status, body } = await postJSON(`${url()}/embeddings`, { texts: ["first text", "second", "a third one"] });
    assert.equal(status, 200, JSON.stringify(body));
    assertEmbeddings(body, 3);
  });

  it("/classify takes a multipart upload and returns labels", async () => {
    const form = new FormData();
    form.append("image", new Blob([gradientPNG()], { type: "image/png" }), "photo.png");
    const res = await fetch(`${url()}/classify`, { method: "POST", body: form });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assertClassifications(body);
  });

  it("/translate returns {translated_text}", async () => {
    const { status, body } = await postJSON(`${url()}/translate`, { text: "Hello, how are you?", source_lang: "english", target_lang: "french" });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(typeof body.translated_text, "string");
    assert.ok(body.translated_text.length > 0);
  });

  it("/chat returns {response, usage}", async () => {
    const { status, body } = await postJSON(`${url()}/chat`, { messages: [{ role: "user", content: "Say hello." }] });
    assert.equal(status, 200, JSON.stringify(body));
    assertGeneration(body);
  });

  it("/analyze runs three prompts concurrently", async () => {
    const { status, body } = await postJSON(`${url()}/analyze`, { text: "The new release is fast and the docs are clear." });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(typeof body.sentiment, "string");
    assert.ok(Array.isArray(body.keywords));
    assert.equal(typeof body.summary, "string");
  });

  it("/batch settles mixed tasks independently", async () => {
    const tasks = [
      { type: "embeddings", text: ["one", "two"] },
      { type: "translate", text: "good morning", target_lang: "de" },
      { type: "classify", image: [...gradientPNG(16, 16, 3)] },
      { type: "chat", prompt: "Name a colour." },
      { type: "translate", text: "no target language" }, // invalid: target_lang is required
    ];
    const { status, body } = await postJSON(`${url()}/batch`, { tasks });
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.map((r) => r.type), tasks.map((t) => t.type));
    const failed = body.filter((r) => !r.ok);
    assert.equal(failed.length, 1, `only the invalid task fails: ${JSON.stringify(failed)}`);
    assert.match(failed[0].error, /^5006: /);
    assertEmbeddings(body[0].result, 2);
    assert.equal(typeof body[1].result.translated_text, "string");
    assertClassifications(body[2].result);
    assertGeneration(body[3].result);
  });

  it("env.AI.models() lists the catalog", async () => {
    const res = await fetch(`${url()}/models?task=Translation`);
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(body.map((m) => m.name), [MODELS.translation]);
    assert.equal(body[0].task.name, "Translation");
    assert.ok(Array.isArray(body[0].properties));
  });

  it("a bad input surfaces as InferenceUpstreamError 5006", async () => {
    const { status, body } = await postJSON(`${url()}/embeddings`, { texts: [] });
    assert.equal(status, 502, JSON.stringify(body));
    assert.match(body.error, /^5006: /);
    if (rpcBinding) {
      assert.equal(body.name, "InvalidInputError", JSON.stringify(body));
      return;
    }
    assert.equal(body.class, "InferenceUpstreamError");
    assert.equal(body.internalCode, 5006);
    assert.equal(body.httpStatus, 400);
  });

  it("an upload that is not an image surfaces as InferenceUpstreamError 5006", async () => {
    const form = new FormData();
    form.append("image", new Blob([Buffer.from("this is not an image")]), "notes.txt");
    const res = await fetch(`${url()}/classify`, { method: "POST", body: form });
    const body = await res.json();
    assert.equal(res.status, 502, JSON.stringify(body));
    assert.equal(body.class, rpcBinding ? "Error" : "InferenceUpstreamError");
    assert.match(body.error, /^5006: /);
  });
}

/** compat/workers/streaming-chat.js */
export function streamingWorkerCases(url) {
  it("pipes stream: true to the client as server-sent events", async () => {
    // A seed makes the synthetic model's reply reproducible: unseeded, its
    // random weights now and then end the reply at the first token.
    const res = await fetch(url(), { method: "POST", body: JSON.stringify({ messages: [{ role: "user", content: "Tell me a story." }], seed: 42 }) });
    assert.equal(res.status, 200, res.status === 200 ? "" : await res.text());
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    const text = workersAIStreamText(assert, await res.text());
    assert.ok(text.length > 0);
  });
}

/** compat/workers/document-pipeline.js */
export function documentPipelineCases(url) {
  it("chunks a document, embeds the chunks and averages them", async () => {
    const words = Array.from({ length: 130 }, (_, i) => `word${i % 17} item${i}`);
    const { status, body } = await postJSON(url(), { text: words.join(" ") });
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(body.chunks.length > 1, `a long document makes several chunks, got ${body.chunks.length}`);
    assert.deepEqual(body.shape, [body.chunks.length, body.embedding.length]);
    // The average must be that of the chunks' own embeddings, asked of edgeinfer directly.
    const direct = await directEmbeddings(MODELS.embeddingsSmall, body.chunks);
    for (let i = 0; i < body.embedding.length; i++) {
      const mean = direct.data.reduce((s, row) => s + row[i], 0) / direct.data.length;
      assert.ok(Math.abs(mean - body.embedding[i]) < 1e-4, `component ${i}: ${body.embedding[i]} vs ${mean}`);
    }
  });
}

/** compat/workers/chat-history.js, with a KV namespace bound as HISTORY */
export function chatHistoryCases(url) {
  it("keeps each session's chat history in KV between requests", async () => {
    const session = `s${Date.now()}`; // KV may persist between runs under wrangler
    const first = await postJSON(`${url()}/sessions/${session}`, { message: "My name is Alice." });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const second = await postJSON(`${url()}/sessions/${session}`, { message: "What is my name?" });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    // The second prompt carries the first turn, so it is longer.
    assert.ok(second.body.usage.prompt_tokens > first.body.usage.prompt_tokens,
      `${second.body.usage.prompt_tokens} <= ${first.body.usage.prompt_tokens}`);

    const history = await (await fetch(`${url()}/sessions/${session}`)).json();
    assert.deepEqual(history.map((m) => m.role), ["system", "user", "assistant", "user", "assistant"]);
    assert.equal(history[1].content, "My name is Alice.");
    assert.equal(history[2].content, first.body.reply);

    assert.deepEqual(await (await fetch(`${url()}/sessions/${session}-other`)).json(), []);
    assert.equal((await fetch(`${url()}/sessions/${session}`, { method: "DELETE" })).status, 204);
    assert.deepEqual(await (await fetch(`${url()}/sessions/${session}`)).json(), []);
  });
}
