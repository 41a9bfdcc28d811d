// The AI SDK against edgeinfer, as its users run it:
// - in a Worker, `ai` with workers-ai-provider on env.AI
//   (createWorkersAI({ binding: env.AI })), run by `edgeinfer dev -- wrangler dev`
//   (wrangler 4): generateText, streamText (text, and with a tool over two
//   steps), embed/embedMany and transcribe with workersai.transcription
//   (compat/aisdk/);
// - outside a Worker, @ai-sdk/openai-compatible at edgeinfer's /v1:
//   generateText, streamText and embedMany.
// A relay records the exact request the SDK sent; the test sends the same
// request to edgeinfer's REST API itself and compares the SDK's result with
// that answer (greedy decoding, so the text is the same).
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { accountId, compatDir, edgeinferBin, engineURL } from "./lib/edgeinfer.mjs";
import { postJSON } from "./lib/http.mjs";
import { toneWAV } from "./lib/wav.mjs";
import { freePort, start, waitForHTTP } from "./lib/procs.mjs";
import { startRecorder } from "./lib/recorder.mjs";
import { assertLoopbackOnly, importToolchain, netlogEnv, readNetlog, requireToolchain, toolchainDir } from "./lib/toolchain.mjs";

const wranglerBin = path.join(toolchainDir, "node_modules", ".bin", "wrangler");
const LEGACY = "@cf/meta/llama-3.1-8b-instruct-fp8"; // {response, usage}
const OPENAI_SHAPED = "@cf/zai-org/glm-4.7-flash"; // chat.completion objects and chunks
const TOOLS = "@cf/qwen/qwen3-30b-a3b-fp8"; // the synthetic Qwen3 calls tools (with arguments {})
const EMBEDDINGS = "@cf/baai/bge-small-en-v1.5";
const SPEECH = "@cf/openai/whisper-tiny-en"; // {text, word_count, words, vtt}
const SPEECH_TURBO = "@cf/openai/whisper-large-v3-turbo"; // {transcription_info, text, segments, …}
const PROMPT = "Write a haiku about the edge of the network.";

/** edgeinfer's own REST answer (the envelope's result) to inputs, unstreamed. */
async function restRun(model, inputs) {
  const { stream: _s, ...rest } = inputs;
  const res = await postJSON(`${engineURL}/client/v4/accounts/${accountId}/ai/run/${model}`, rest);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.result;
}

/** The binding calls (POST /run) the relay recorded from index `since` on: {model, inputs, options}. */
function bindingCalls(recorder, since) {
  return recorder.requests.slice(since)
    .filter((r) => r.method === "POST" && r.path.startsWith("/run?"))
    .map((r) => ({ model: r.headers["cf-consn-model-id"], ...JSON.parse(r.body) }));
}

function assertClose(got, want, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

describe("the AI SDK in a Worker (workers-ai-provider on env.AI) under edgeinfer dev with wrangler 4", () => {
  let dir;
  let proc;
  let url;
  let recorder;
  let netlog;

  // Posts to the Worker and returns the SDK's result with the binding calls it made.
  async function call(route, body) {
    const since = recorder.requests.length;
    const res = await postJSON(`${url}${route}`, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { out: res.body, calls: bindingCalls(recorder, since) };
  }

  before(async () => {
    requireToolchain();
    recorder = await startRecorder({ bodies: true });
    dir = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-aisdk-"));
    await cp(path.join(compatDir, "aisdk"), path.join(dir, "aisdk"), { recursive: true });
    await symlink(path.join(toolchainDir, "node_modules"), path.join(dir, "aisdk", "node_modules"));
    await mkdir(path.join(dir, "config"));
    netlog = path.join(dir, "netlog.jsonl");
    const [port, inspectorPort] = [await freePort(), await freePort()];
    proc = start(
      edgeinferBin,
      ["dev", "--engine", recorder.url, "--",
        wranglerBin, "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
        "--persist-to", path.join(dir, "state"), "--show-interactive-dev-session=false"],
      { cwd: path.join(dir, "aisdk"), env: { ...process.env, ...netlogEnv(netlog), XDG_CONFIG_HOME: path.join(dir, "config") } },
    );
    url = `http://127.0.0.1:${port}`;
    await waitForHTTP(`${url}/`, proc, 90000);
  });

  after(async () => {
    await proc?.stop();
    await recorder?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("generateText, legacy schema ({response, usage}): the text and usage edgeinfer answers", async () => {
    const { out, calls } = await call("/generate", { model: LEGACY, prompt: PROMPT, maxOutputTokens: 24 });
    assert.equal(calls.length, 1);
    assert.equal(calls[0].model, LEGACY);
    const want = await restRun(LEGACY, calls[0].inputs);
    assert.ok(want.response.length > 0);
    assert.equal(out.text, want.response);
    assert.equal(out.finishReason, "stop");
    assert.equal(out.usage.inputTokens, want.usage.prompt_tokens);
    assert.equal(out.usage.outputTokens, want.usage.completion_tokens);
  });

  it("generateText, OpenAI-shaped (chat.completion): text, reasoning and usage", async () => {
    const { out, calls } = await call("/generate", { model: OPENAI_SHAPED, prompt: PROMPT, maxOutputTokens: 24 });
    const want = await restRun(OPENAI_SHAPED, calls[0].inputs);
    assert.equal(want.object, "chat.completion");
    const { message } = want.choices[0];
    assert.equal(out.text, message.content);
    assert.equal(out.reasoning, message.reasoning_content ?? null);
    assert.equal(out.usage.outputTokens, want.usage.completion_tokens);
  });

  for (const [label, model, text] of [
    ["legacy schema ({response} events)", LEGACY, (r) => r.response],
    ["OpenAI-shaped (chat.completion.chunk events)", OPENAI_SHAPED, (r) => r.choices[0].message.content],
  ]) {
    it(`streamText, ${label}: the pieces add up to edgeinfer's answer`, async () => {
      const { out, calls } = await call("/stream", { model, prompt: PROMPT, maxOutputTokens: 24 });
      assert.equal(calls[0].inputs.stream, true, "the SDK streamed");
      const want = await restRun(model, calls[0].inputs);
      assert.ok(out.deltas.length > 1, `one piece per token, got ${JSON.stringify(out.deltas)}`);
      assert.equal(out.deltas.join(""), text(want));
      assert.equal(out.text, text(want));
      assert.equal(out.finishReason, "stop");
      assert.equal(out.usage.outputTokens, want.usage.completion_tokens);
    });
  }

  it("streamText with a tool, two steps: the model's call, the tool's result sent back, the second answer", async () => {
    const { out, calls } = await call("/tool", { model: TOOLS, prompt: "What is the weather in Paris?", maxOutputTokens: 64, steps: 2 });
    assert.equal(calls.length, 2, "one binding call per step");
    const [first, second] = calls;
    assert.equal(first.inputs.stream, true);
    assert.deepEqual(first.inputs.tools.map((t) => t.function.name), ["get_weather"]);
    assert.deepEqual(first.inputs.chat_template_kwargs, { enable_thinking: false });

    // Step 1: the streamed call is the one edgeinfer answers unstreamed.
    const want1 = await restRun(TOOLS, first.inputs);
    assert.ok(want1.tool_calls?.length > 0, `the synthetic Qwen3 calls the tool: ${JSON.stringify(want1)}`);
    const called = want1.tool_calls.map((c) => ({ toolName: c.name, input: c.arguments }));
    const result = (input) => ({ city: input.city ?? "unknown", forecast: "sunny", tempC: 21 }); // compat/aisdk's execute
    assert.deepEqual(out.toolCalls.slice(0, called.length), called);
    assert.deepEqual(out.toolResults.slice(0, called.length), called.map((c) => ({ ...c, output: result(c.input) })));
    for (const part of ["tool-input-start", "tool-input-delta", "tool-call", "tool-result"]) assert.ok(out.parts.includes(part), `${part} in ${out.parts}`);

    // Step 2: the SDK sent the call and its result back in the binding's message format.
    const messages = second.inputs.messages;
    const assistant = messages.find((m) => m.role === "assistant");
    assert.deepEqual(assistant.tool_calls.map((c) => c.function.name), want1.tool_calls.map((c) => c.name));
    const toolMessage = messages.find((m) => m.role === "tool");
    assert.ok(toolMessage.tool_call_id, JSON.stringify(toolMessage));
    assert.deepEqual(JSON.parse(toolMessage.content), result(called[0].input));
    const want2 = await restRun(TOOLS, second.inputs);
    assert.equal(out.steps.length, 2);
    assert.equal(out.steps[1].toolCalls, want2.tool_calls?.length ?? 0);
    assert.equal(out.steps[1].text, want2.response);
  });

  it("embed and embedMany: edgeinfer's vectors", async () => {
    const values = ["edge inference", "a network of small servers", "hello"];
    const { out, calls } = await call("/embed", { model: EMBEDDINGS, values });
    assert.deepEqual(calls.map((c) => c.inputs.text), [[values[0]], values]);
    const one = await restRun(EMBEDDINGS, { text: [values[0]] });
    const many = await restRun(EMBEDDINGS, { text: values });
    assertClose(out.embedding, one.data[0], "embed");
    assert.equal(out.embeddings.length, values.length);
    out.embeddings.forEach((e, i) => assertClose(e, many.data[i], `embedMany[${i}]`));
  });

  // The provider's segments are Whisper's segments where the answer has
  // them (turbo) and its words otherwise; the synthetic weights make the
  // text meaningless, so it is compared, not read.
  for (const [model, settings, audioOf, segmentsOf] of [
    [SPEECH, {}, (inputs) => Buffer.from(inputs.audio).equals(toneWAV(1)), (r) => r.words.map((w) => ({ text: w.word, startSecond: w.start, endSecond: w.end }))],
    [SPEECH_TURBO, { language: "en" }, (inputs) => Buffer.from(inputs.audio, "base64").equals(toneWAV(1)), (r) => r.segments.map((s) => ({ text: s.text, startSecond: s.start, endSecond: s.end }))],
  ]) {
    it(`transcribe with workersai.transcription("${model}"): edgeinfer's text and timings`, async () => {
      const { out, calls } = await call("/transcribe", { model, audio: toneWAV(1).toString("base64"), settings });
      assert.equal(calls.length, 1);
      assert.equal(calls[0].model, model);
      assert.equal(calls[0].inputs.language, settings.language);
      assert.ok(audioOf(calls[0].inputs), "the provider sent the file's bytes in the model's form");
      const want = await restRun(model, calls[0].inputs);
      assert.ok(want.text.length > 0, JSON.stringify(want));
      assert.equal(out.text, want.text);
      assert.deepEqual(out.segments, segmentsOf(want));
      assert.equal(out.language, want.transcription_info?.language ?? null);
      assert.equal(out.durationInSeconds, want.transcription_info?.duration ?? null);
    });
  }

  it("sent every AI call to edgeinfer's binding route and nothing to the Cloudflare API", () => {
    // (edgeinfer dev checks /healthz before it starts wrangler.)
    const other = recorder.requests.filter((r) => !r.path.startsWith("/run?") && r.path !== "/healthz");
    assert.deepEqual(other.map((r) => `${r.method} ${r.path}`), []);
  });

  it("no node process of the session connected beyond loopback", async () => {
    await proc.stop();
    assertLoopbackOnly(await readNetlog(netlog));
  });
});

describe("the OpenAI-compatible provider (@ai-sdk/openai-compatible) at edgeinfer's /v1", () => {
  let recorder;
  let provider;
  let ai;

  // The request body the provider sent to path, from index `since` on.
  function sent(since, p) {
    const r = recorder.requests.slice(since).filter((x) => x.path === p);
    assert.equal(r.length, 1, `one POST ${p}: ${JSON.stringify(recorder.requests.slice(since).map((x) => x.path))}`);
    return JSON.parse(r[0].body);
  }

  async function openai(p, body) {
    const res = await postJSON(`${engineURL}${p}`, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }

  before(async () => {
    requireToolchain();
    recorder = await startRecorder({ bodies: true });
    const { createOpenAICompatible } = await importToolchain("@ai-sdk/openai-compatible");
    ai = await importToolchain("ai");
    provider = createOpenAICompatible({ name: "edgeinfer", baseURL: `${recorder.url}/v1`, apiKey: "local", includeUsage: true });
  });

  after(() => recorder?.close());

  it("generateText: the completion edgeinfer answers", async () => {
    const since = recorder.requests.length;
    const out = await ai.generateText({ model: provider(LEGACY), prompt: PROMPT, temperature: 0, maxOutputTokens: 24, maxRetries: 0 });
    const want = await openai("/v1/chat/completions", sent(since, "/v1/chat/completions"));
    assert.ok(want.choices[0].message.content.length > 0);
    assert.equal(out.text, want.choices[0].message.content);
    assert.equal(out.finishReason, want.choices[0].finish_reason);
    assert.equal(out.usage.inputTokens, want.usage.prompt_tokens);
    assert.equal(out.usage.outputTokens, want.usage.completion_tokens);
  });

  it("streamText with a tool: text pieces, then the call, as edgeinfer answers unstreamed", async () => {
    for (const [model, options] of [[LEGACY, {}], [TOOLS, { tools: true }]]) {
      const since = recorder.requests.length;
      const tools = options.tools && {
        get_weather: ai.tool({ description: "Weather of a city", inputSchema: ai.jsonSchema({ type: "object", properties: { city: { type: "string" } } }) }),
      };
      const r = ai.streamText({
        model: provider(model), prompt: options.tools ? "What is the weather in Paris?" : PROMPT, temperature: 0, maxOutputTokens: 48, maxRetries: 0,
        ...(tools && { tools, providerOptions: { edgeinfer: { chat_template_kwargs: { enable_thinking: false } } } }),
      });
      const deltas = [];
      const calls = [];
      for await (const part of r.fullStream) {
        if (part.type === "error") throw part.error;
        if (part.type === "text-delta") deltas.push(part.text);
        if (part.type === "tool-call") calls.push({ name: part.toolName, input: part.input });
      }
      const body = sent(since, "/v1/chat/completions");
      assert.equal(body.stream, true);
      const want = await openai("/v1/chat/completions", { ...body, stream: false, stream_options: undefined });
      const { message } = want.choices[0];
      assert.equal(deltas.join(""), message.content ?? "", model);
      assert.deepEqual(calls, (message.tool_calls ?? []).map((c) => ({ name: c.function.name, input: JSON.parse(c.function.arguments) })), model);
      if (options.tools) assert.ok(calls.length > 0, "the synthetic Qwen3 calls the tool");
      else assert.ok(deltas.length > 1, `one piece per token: ${JSON.stringify(deltas)}`);
      assert.equal(await r.finishReason, options.tools ? "tool-calls" : "stop");
      assert.equal((await r.usage).outputTokens, want.usage.completion_tokens);
    }
  });

  it("embedMany: edgeinfer's vectors, in order", async () => {
    const values = ["edge inference", "a network of small servers", "hello"];
    const since = recorder.requests.length;
    const out = await ai.embedMany({ model: provider.embeddingModel(EMBEDDINGS), values, maxRetries: 0 });
    const want = await openai("/v1/embeddings", sent(since, "/v1/embeddings"));
    assert.equal(out.embeddings.length, values.length);
    for (const d of want.data) assertClose(out.embeddings[d.index], d.embedding, `embedding ${d.index}`);
    assert.equal(out.usage.tokens, want.usage.prompt_tokens);
  });
});
