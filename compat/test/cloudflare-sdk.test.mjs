// The official `cloudflare` SDK with baseURL at edgeinfer: client.ai.run for
// the four tasks, the model catalog and schemas, and its error type.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Cloudflare from "cloudflare";
import { accountId, assertClassifications, assertEmbeddings, assertGeneration, engineURL, MODELS } from "./lib/edgeinfer.mjs";
import { gradientPNG } from "./lib/png.mjs";

const requests = [];
const client = new Cloudflare({
  apiToken: "local-token-ignored-without-EDGEINFER_API_TOKEN",
  baseURL: `${engineURL}/client/v4`,
  maxRetries: 0,
  // Records the URLs the SDK builds, to check the encoded model path.
  fetch: (url, init) => {
    requests.push(String(url));
    return fetch(url, init);
  },
});

describe("cloudflare SDK: client.ai.run", () => {
  it("text embeddings, with the model's slashes percent-encoded in the path", async () => {
    requests.length = 0;
    const out = await client.ai.run(MODELS.embeddingsBase, { account_id: accountId, text: ["hello world", "second"] });
    assertEmbeddings(out, 2);
    assert.equal(requests.length, 1);
    const path = new URL(requests[0]).pathname;
    assert.match(path, new RegExp(`^/client/v4/accounts/${accountId}/ai/run/`));
    assert.ok(path.endsWith("cf%2Fbaai%2Fbge-base-en-v1.5"), `the SDK encodes the model ID: ${path}`);
  });

  it("image classification from an array of bytes", async () => {
    const out = await client.ai.run(MODELS.image, { account_id: accountId, image: [...gradientPNG()] });
    assertClassifications(out);
  });

  it("translation", async () => {
    const out = await client.ai.run(MODELS.translation, { account_id: accountId, text: "The weather is nice today.", source_lang: "en", target_lang: "es" });
    assert.equal(typeof out.translated_text, "string");
    assert.ok(out.translated_text.length > 0);
  });

  it("text generation from a prompt and from messages", async () => {
    assertGeneration(await client.ai.run(MODELS.chat, { account_id: accountId, prompt: "Write a haiku about rain.", max_tokens: 24 }));
    assertGeneration(
      await client.ai.run(MODELS.chat, {
        account_id: accountId,
        messages: [
          { role: "system", content: "You are terse." },
          { role: "user", content: "What is 2 + 2?" },
        ],
        max_tokens: 24,
      }),
    );
  });

  it("JSON mode through client.ai.run: the parsed object comes back in response", async () => {
    const out = await client.ai.run("@cf/meta/llama-3.1-8b-instruct-fp8", {
      account_id: accountId,
      messages: [{ role: "user", content: "A city as JSON." }],
      response_format: {
        type: "json_schema",
        json_schema: { type: "object", properties: { name: { type: "string" }, summary: { type: "string" } }, required: ["name", "summary"] },
      },
      max_tokens: 128,
      seed: 1,
    });
    assert.equal(typeof out.response, "object");
    assert.equal(typeof out.response.name, "string");
    assert.equal(typeof out.response.summary, "string");
  });

  it("an OpenAI-shaped model (glm-4.7-flash) answers client.ai.run with a chat.completion", async () => {
    const out = await client.ai.run("@cf/zai-org/glm-4.7-flash", {
      account_id: accountId,
      messages: [{ role: "user", content: "Say hi." }],
      chat_template_kwargs: { enable_thinking: false },
      max_completion_tokens: 16,
      seed: 1,
    });
    assert.equal(out.object, "chat.completion");
    assert.equal(out.choices[0].message.role, "assistant");
    assert.equal(typeof out.choices[0].message.content, "string");
    assert.equal(out.usage.total_tokens, out.usage.prompt_tokens + out.usage.completion_tokens);
  });

  it("vision through client.ai.run: llama-3.2-11b-vision takes the image as bytes", async () => {
    const out = await client.ai.run("@cf/meta/llama-3.2-11b-vision-instruct", {
      account_id: accountId,
      messages: [{ role: "user", content: "What is in this picture?" }],
      image: [...gradientPNG()],
      max_tokens: 16,
    });
    assert.equal(typeof out.response, "string");
    await assert.rejects(
      client.ai.run("@cf/meta/llama-3.2-11b-vision-instruct", {
        account_id: accountId,
        messages: [{ role: "user", content: "What is in this picture?" }],
        image: [1, 2, 3, 4],
        max_tokens: 16,
      }),
      (err) => err instanceof Cloudflare.BadRequestError && /image/.test(err.message),
    );
  });

  it("a bad input throws BadRequestError carrying code 5006", async () => {
    await assert.rejects(client.ai.run(MODELS.embeddingsBase, { account_id: accountId, text: [] }), (err) => {
      assert.ok(err instanceof Cloudflare.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 400);
      assert.equal(err.errors[0].code, 5006);
      return true;
    });
  });

  it("an unknown model throws BadRequestError carrying code 5007", async () => {
    await assert.rejects(client.ai.run("@cf/nobody/no-such-model", { account_id: accountId, prompt: "hi" }), (err) => {
      assert.ok(err instanceof Cloudflare.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.errors[0].code, 5007);
      return true;
    });
  });
});

describe("cloudflare SDK: the retrieval models", () => {
  const run = (model, input) => client.ai.run(model, { account_id: accountId, ...input });
  const contexts = [{ text: "The harbour was quiet at dawn." }, { text: "Tax forms are due in April." }, { text: "Boats rocked in the harbour." }];

  it("bge-reranker-base scores every context, best first, and cuts to top_k", async () => {
    const out = await run("@cf/baai/bge-reranker-base", { query: "a quiet harbour", contexts });
    assert.deepEqual(out.response.map((r) => r.id).sort(), [0, 1, 2]);
    for (const [i, r] of out.response.entries()) {
      assert.ok(r.score >= 0 && r.score <= 1, `sigmoid score ${r.score}`);
      if (i > 0) assert.ok(out.response[i - 1].score >= r.score, "best first");
    }
    const top = await run("@cf/baai/bge-reranker-base", { query: "a quiet harbour", contexts, top_k: 1 });
    assert.deepEqual(top.response, out.response.slice(0, 1));
  });

  it("bge-m3 embeds text, scores contexts against a query, and embeds contexts", async () => {
    const emb = await run("@cf/baai/bge-m3", { text: ["first", "second"] });
    assertEmbeddings(emb, 2);
    assert.equal(emb.pooling, "cls");
    const scored = await run("@cf/baai/bge-m3", { query: "harbour", contexts });
    assert.equal(scored.response.length, 3);
    assert.ok(scored.response.every((r) => Number.isInteger(r.id) && r.score >= -1.0001 && r.score <= 1.0001));
    const ctx = await run("@cf/baai/bge-m3", { contexts });
    assert.deepEqual(ctx.shape, [3, emb.shape[1]]);
    assert.equal(ctx.response.length, 3);
    assert.equal(ctx.pooling, "cls");
  });

  it("qwen3-embedding-0.6b embeds queries (with the instruction) then documents; embeddinggemma embeds text", async () => {
    const q = await run("@cf/qwen/qwen3-embedding-0.6b", { queries: ["where is the harbour?"], documents: ["The harbour", "Tax forms"] });
    assert.equal(q.shape[0], 3);
    assert.equal(q.data.length, 3);
    assert.equal(q.pooling, undefined);
    const g = await run("@cf/google/embeddinggemma-300m", { text: "The harbour was quiet." });
    assert.equal(g.shape[0], 1);
    assert.ok(g.data[0].every(Number.isFinite));
  });

  it("distilbert-sst-2-int8 answers NEGATIVE and POSITIVE with scores summing to 1", async () => {
    const out = await run("@cf/huggingface/distilbert-sst-2-int8", { text: "What a wonderful film." });
    assert.deepEqual(out.map((l) => l.label), ["NEGATIVE", "POSITIVE"]);
    assert.ok(Math.abs(out[0].score + out[1].score - 1) < 1e-5);
  });

  it("a reranker request without a query is a 400 naming it", async () => {
    await assert.rejects(run("@cf/baai/bge-reranker-base", { contexts }), (err) => {
      assert.ok(err instanceof Cloudflare.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
      assert.match(err.message, /query/);
      return true;
    });
  });
});

describe("cloudflare SDK: the model catalog", () => {
  it("models.list pages through every model", async () => {
    const ids = [];
    for await (const model of client.ai.models.list({ account_id: accountId, per_page: 5 })) ids.push(model.name);
    for (const id of Object.values(MODELS)) assert.ok(ids.includes(id), `${id} is listed`);
    assert.equal(new Set(ids).size, ids.length, "no model twice across pages");
  });

  it("models.list filters by task and by search", async () => {
    const page = await client.ai.models.list({ account_id: accountId, task: "Text Embeddings" });
    const names = page.result.map((m) => m.name).sort();
    assert.deepEqual(names, [
      "@cf/baai/bge-base-en-v1.5", "@cf/baai/bge-large-en-v1.5", "@cf/baai/bge-m3", "@cf/baai/bge-small-en-v1.5",
      "@cf/baai/omni-bge-base-en-v1.5", "@cf/google/embeddinggemma-300m", "@cf/qwen/qwen3-embedding-0.6b",
    ]);
    assert.ok(page.result.every((m) => m.task.name === "Text Embeddings"));

    const classifiers = await client.ai.models.list({ account_id: accountId, task: "Text Classification" });
    assert.deepEqual(classifiers.result.map((m) => m.name).sort(), ["@cf/baai/bge-reranker-base", "@cf/huggingface/distilbert-sst-2-int8"]);
    assert.ok(classifiers.result.every((m) => m.task.id === "19606750-23ed-4371-aab2-c20349b53a60"));

    const found = await client.ai.models.list({ account_id: accountId, search: "resnet" });
    assert.deepEqual(found.result.map((m) => m.name), [MODELS.image]);
  });

  it("lists today's models and marks the retired ones it still serves", async () => {
    const current = await client.ai.models.list({ account_id: accountId, search: "llama-3.1-8b-instruct-fp8" });
    assert.deepEqual(current.result.map((m) => m.name), ["@cf/meta/llama-3.1-8b-instruct-fp8"]);
    assert.ok(!current.result[0].properties.some((p) => p.property_id === "planned_deprecation_date"));

    const old = await client.ai.models.list({ account_id: accountId, search: "@cf/meta/llama-3-8b-instruct" });
    const retired = old.result.find((m) => m.name === "@cf/meta/llama-3-8b-instruct");
    assert.ok(retired, "the retired ID is listed");
    assert.ok(retired.properties.some((p) => p.property_id === "planned_deprecation_date" && p.value === "2026-05-30"));

    const schema = await client.ai.models.schema.get({ account_id: accountId, model: "@cf/meta/llama-3-8b-instruct" });
    assert.equal(schema.input.deprecated, true);
  });

  it("models.schema.get returns the input and output schemas", async () => {
    const schema = await client.ai.models.schema.get({ account_id: accountId, model: MODELS.translation });
    assert.equal(schema.input.type, "object");
    assert.ok(schema.input.required.includes("target_lang"));
    assert.ok(schema.output.properties.translated_text);
  });
});
