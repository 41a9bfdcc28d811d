// env.AI through a runtime under test against env.AI through workerd's
// genuine Workers AI binding: the same calls go to compat/workers/binding-probe.js
// under both, and what the Worker sees must match. reference() and subject()
// return the probe's base URL under each.
import assert from "node:assert/strict";
import { it } from "node:test";
import { accountId, assertClassifications, assertEmbeddings, engineURL, MODELS } from "./edgeinfer.mjs";
import { postJSON } from "./http.mjs";
import { gradientPNG } from "./png.mjs";
import { toneWAV } from "./wav.mjs";
import { workersAIStreamText } from "./sse.mjs";

export const CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct-fp8";

async function probe(base, path, payload) {
  if (payload === undefined) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 200, `${base}${path}`);
    return res.json();
  }
  const { status, body } = await postJSON(`${base}${path}`, payload);
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** Runs one env.AI.run call under both runtimes; returns [reference, subject]. */
async function both(reference, subject, call) {
  return Promise.all([probe(reference(), "/probe/run", call), probe(subject(), "/probe/run", call)]);
}

/** What a Worker sees of a thrown error (its name only where it crosses intact). */
function errorShape(out, names = true) {
  assert.equal(out.kind, "error", JSON.stringify(out));
  return names ? { isError: out.isError, name: out.name, message: out.message } : { isError: out.isError, message: out.message };
}

/**
 * With errorNames false (the AI worker in another dev session, reached through
 * wrangler's dev registry), errors must match in message only: their name
 * arrives as "Error".
 */
export function bindingParityCases(reference, subject, { errorNames = true } = {}) {
  it("embeddings: the same vectors", async () => {
    const call = { model: MODELS.embeddingsBase, inputs: { text: ["first text", "a second, longer text"] } };
    const [want, got] = await both(reference, subject, call);
    assert.equal(got.kind, "value", JSON.stringify(got));
    assertEmbeddings(got.value, 2);
    assert.deepEqual(got, want);
  });

  it("text generation, stream: true: the Workers AI event stream", async () => {
    const call = { model: CHAT_MODEL, inputs: { messages: [{ role: "user", content: "Tell me a story." }], stream: true, seed: 42, max_tokens: 24 } };
    const [want, got] = await both(reference, subject, call);
    assert.equal(got.kind, "stream", JSON.stringify(got).slice(0, 300));
    assert.equal(want.kind, "stream");
    assert.ok(workersAIStreamText(assert, got.body).length > 0);
    workersAIStreamText(assert, want.body);
  });

  it("text generation without streaming: {response, usage}", async () => {
    const call = { model: CHAT_MODEL, inputs: { prompt: "Say hello.", seed: 7, max_tokens: 16 } };
    const [want, got] = await both(reference, subject, call);
    assert.equal(got.kind, "value", JSON.stringify(got));
    assert.equal(typeof got.value.response, "string");
    assert.deepEqual(Object.keys(got.value).sort(), Object.keys(want.value).sort());
  });

  it("translation: the same {translated_text}", async () => {
    const call = { model: MODELS.translation, inputs: { text: "Hello, how are you?", source_lang: "en", target_lang: "fr" } };
    const [want, got] = await both(reference, subject, call);
    assert.equal(got.kind, "value", JSON.stringify(got));
    assert.equal(typeof got.value.translated_text, "string");
    assert.deepEqual(got, want);
  });

  it("image classification from bytes: the same labels", async () => {
    const call = { model: MODELS.image, inputs: { image: [...gradientPNG(24, 24, 5)] } };
    const [want, got] = await both(reference, subject, call);
    assert.equal(got.kind, "value", JSON.stringify(got));
    assertClassifications(got.value);
    assert.deepEqual(got, want);
  });

  it("bad input: the same error name and message (5006)", async () => {
    const call = { model: MODELS.embeddingsBase, inputs: { text: [] } };
    const [want, got] = await both(reference, subject, call);
    assert.match(got.message, /^5006: /);
    assert.deepEqual(errorShape(got, errorNames), errorShape(want, errorNames));
  });

  it("unknown model: the same error (5007)", async () => {
    const call = { model: "@cf/nobody/no-such-model", inputs: { text: "x" } };
    const [want, got] = await both(reference, subject, call);
    assert.match(got.message, /^5007: /);
    assert.deepEqual(errorShape(got, errorNames), errorShape(want, errorNames));
  });

  it("returnRawResponse: the Response itself, success and error", async () => {
    for (const inputs of [{ text: ["raw"] }, { text: [] }]) {
      const call = { model: MODELS.embeddingsSmall, inputs, options: { returnRawResponse: true } };
      const [want, got] = await both(reference, subject, call);
      assert.equal(got.kind, "response", JSON.stringify(got));
      assert.equal(got.status, want.status);
      assert.equal(got.contentType, want.contentType);
      assert.equal(got.requestId, true);
      assert.deepEqual(JSON.parse(got.body), JSON.parse(want.body));
    }
  });

  it("gateway options: AI Gateway's cache answers the second call", async () => {
    for (const runtime of [reference, subject]) {
      // A text of its own per runtime: the two share edgeinfer's cache.
      const text = `cache me ${runtime === reference ? "ref" : "sub"} ${Date.now()}`;
      const call = { model: MODELS.embeddingsSmall, inputs: { text }, options: { gateway: { id: "compat", cacheTtl: 60 }, returnRawResponse: true } };
      const first = await probe(runtime(), "/probe/run", call);
      const second = await probe(runtime(), "/probe/run", call);
      assert.equal(first.status, 200, first.body);
      assert.deepEqual([first.cacheStatus, second.cacheStatus], ["MISS", "HIT"]);
      assert.equal(second.body, first.body);
    }
  });

  it("env.AI.models(): the same listing", async () => {
    const [want, got] = await Promise.all([probe(reference(), "/probe/models?task=Translation"), probe(subject(), "/probe/models?task=Translation")]);
    assert.equal(got.kind, "value", JSON.stringify(got));
    assert.deepEqual(got.value.map((m) => m.name), [MODELS.translation]);
    assert.deepEqual(got, want);
  });

  it("env.AI.gateway(id).getUrl(): the same answer", async () => {
    const [want, got] = await Promise.all([probe(reference(), "/probe/gateway?id=compat&provider=openai"), probe(subject(), "/probe/gateway?id=compat&provider=openai")]);
    if (want.kind === "error") assert.deepEqual(errorShape(got, errorNames), errorShape(want, errorNames));
    else assert.deepEqual(got, want);
  });
}

/**
 * Speech recognition through env.AI, as Workers AI's docs call it:
 * whisper-tiny-en with the file as a byte array, turbo with it in base64.
 * Both runtimes must see exactly what edgeinfer's REST API answers to the
 * same inputs (the synthetic weights make the text meaningless; decoding is
 * deterministic, so it is compared whole).
 */
export function speechBindingCases(reference, subject) {
  const wav = toneWAV(1);
  for (const [what, model, inputs] of [
    ["whisper-tiny-en, audio as a byte array: {text, word_count, words, vtt}", MODELS.speech, { audio: [...wav] }],
    ["whisper-large-v3-turbo, audio in base64: {transcription_info, text, segments, vtt}", MODELS.speechTurbo, { audio: wav.toString("base64"), language: "en" }],
  ]) {
    it(`speech recognition, ${what}: the REST answer`, async () => {
      const rest = await postJSON(`${engineURL}/client/v4/accounts/${accountId}/ai/run/${model}`, inputs);
      assert.equal(rest.status, 200, JSON.stringify(rest.body));
      const want = rest.body.result;
      assert.equal(typeof want.text, "string");
      assert.ok(typeof want.vtt === "string" && want.vtt.startsWith("WEBVTT"), JSON.stringify(want));
      const [genuine, got] = await both(reference, subject, { model, inputs });
      assert.equal(got.kind, "value", JSON.stringify(got).slice(0, 300));
      assert.deepEqual(got.value, want);
      assert.deepEqual(genuine.value, want);
    });
  }
}
