// A Worker project's own tests, run by `vitest run` in the Workers runtime.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("env.AI in vitest-pool-workers", () => {
  it("embeds", async () => {
    const out = await env.AI.run("@cf/baai/bge-base-en-v1.5", { text: ["first", "second"] });
    expect(out.shape[0]).toBe(2);
    expect(out.data[1]).toHaveLength(out.shape[1]);
  });

  it("streams text generation as Workers AI events", async () => {
    const stream = await env.AI.run("@cf/meta/llama-3.1-8b-instruct-fp8", { prompt: "Tell me a story.", stream: true, seed: 42, max_tokens: 16 });
    const text = await new Response(stream).text();
    expect(text).toMatch(/^data: \{"response":/);
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  it("translates", async () => {
    const out = await env.AI.run("@cf/meta/m2m100-1.2b", { text: "Hello", source_lang: "en", target_lang: "fr" });
    expect(typeof out.translated_text).toBe("string");
  });

  it("fails as Workers AI does", async () => {
    const err = await env.AI.run("@cf/baai/bge-base-en-v1.5", { text: [] }).catch((e) => e);
    expect(err.constructor.name).toBe("InferenceUpstreamError");
    expect(err.message).toMatch(/^5006: /);
    expect(env.AI.lastRequestInternalStatusCode).toBe(5006);
  });

  it("serves the Worker's fetch handler with env.AI", async () => {
    const res = await exports.default.fetch("http://example.com/probe/models?task=Translation");
    const body = await res.json();
    expect(body.value.map((m) => m.name)).toEqual(["@cf/meta/m2m100-1.2b"]);
  });
});
