// The `openai` SDK with baseURL at edgeinfer's OpenAI-compatible routes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import OpenAI from "openai";
import { accountId, engineURL, MODELS } from "./lib/edgeinfer.mjs";
import fs from "node:fs";
import { gradientPNG } from "./lib/png.mjs";
import { toneWAVFile } from "./lib/wav.mjs";

// Both base URLs Workers AI documents: edgeinfer's /v1 and the account-scoped one.
const bases = [`${engineURL}/v1`, `${engineURL}/client/v4/accounts/${accountId}/ai/v1`];

for (const baseURL of bases) {
  const client = new OpenAI({ apiKey: "local", baseURL, maxRetries: 0 });

  describe(`openai SDK at ${new URL(baseURL).pathname}`, () => {
    it("chat.completions.create", async () => {
      const completion = await client.chat.completions.create({
        model: MODELS.chat,
        messages: [{ role: "user", content: "Say hi." }],
        max_tokens: 24,
      });
      assert.equal(completion.object, "chat.completion");
      assert.equal(completion.model, MODELS.chat);
      const [choice] = completion.choices;
      assert.equal(choice.message.role, "assistant");
      assert.equal(typeof choice.message.content, "string");
      assert.ok(["stop", "length"].includes(choice.finish_reason), choice.finish_reason);
      assert.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens);
    });

    it("chat.completions.create with stream: true", async () => {
      const stream = await client.chat.completions.create({
        model: MODELS.chat,
        messages: [{ role: "user", content: "Count to five." }],
        max_tokens: 24,
        stream: true,
      });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
      assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
      assert.equal(chunks[0].choices[0].delta.role, "assistant");
      const last = chunks.at(-1);
      assert.ok(last.choices[0].finish_reason, "the last chunk finishes");
      assert.ok(last.usage.completion_tokens > 0);
      const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
      assert.equal(typeof text, "string");
    });

    it("chat.completions.create with stream_options.include_usage", async () => {
      const stream = await client.chat.completions.create({
        model: MODELS.chat,
        messages: [{ role: "user", content: "Count to five." }],
        max_tokens: 16,
        seed: 7,
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      const last = chunks.at(-1);
      assert.deepEqual(last.choices, [], "OpenAI's usage chunk carries no choices");
      assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    });

    it("a Qwen3-family model thinks: reasoning_content beside the answer", async () => {
      const completion = await client.chat.completions.create({
        model: "@cf/qwen/qwen3-30b-a3b-fp8",
        messages: [{ role: "user", content: "Think, then answer." }],
        chat_template_kwargs: { enable_thinking: true },
        max_tokens: 96,
        seed: 1,
      });
      const { message } = completion.choices[0];
      assert.equal(typeof message.reasoning_content, "string");
      assert.ok(message.reasoning_content.length > 0, "the synthetic Qwen3 closes its <think> block");
    });

    it("a Qwen3-family model calls a tool", async () => {
      let calls = [];
      for (let seed = 1; seed <= 5 && calls.length === 0; seed++) {
        const completion = await client.chat.completions.create({
          model: "@cf/qwen/qwen3-30b-a3b-fp8",
          messages: [{ role: "user", content: "What is the weather in Paris?" }],
          chat_template_kwargs: { enable_thinking: false },
          tools: [{ type: "function", function: { name: "get_weather", description: "Weather of a city",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }],
          max_tokens: 64,
          seed,
        });
        calls = completion.choices[0].message.tool_calls ?? [];
        if (calls.length) assert.equal(completion.choices[0].finish_reason, "tool_calls");
      }
      assert.equal(calls[0]?.function?.name, "get_weather");
      assert.equal(typeof JSON.parse(calls[0].function.arguments), "object");
    });

    it("JSON mode: a json_schema with free-text strings on a Llama 3 family model", async () => {
      const completion = await client.chat.completions.create({
        model: "@cf/meta/llama-3.1-8b-instruct-fp8",
        messages: [{ role: "user", content: "Describe a city as JSON." }],
        response_format: {
          type: "json_schema",
          json_schema: { name: "city", schema: { type: "object", properties: { name: { type: "string" }, summary: { type: "string" } }, required: ["name", "summary"] } },
        },
        max_tokens: 128,
        seed: 1,
      });
      const city = JSON.parse(completion.choices[0].message.content);
      assert.equal(typeof city.name, "string");
      assert.equal(typeof city.summary, "string");
    });

    it("vision: an image_url data URL part is accepted, an http URL is a 400 naming the field", async () => {
      const png = Buffer.from(gradientPNG()).toString("base64");
      const content = (url) => [
        { type: "text", text: "What is in this picture?" },
        { type: "image_url", image_url: { url } },
      ];
      const completion = await client.chat.completions.create({
        model: "@cf/mistralai/mistral-small-3.1-24b-instruct",
        messages: [{ role: "user", content: content(`data:image/png;base64,${png}`) }],
        max_tokens: 16,
        seed: 1,
      });
      assert.equal(typeof completion.choices[0].message.content, "string");
      await assert.rejects(
        client.chat.completions.create({
          model: "@cf/mistralai/mistral-small-3.1-24b-instruct",
          messages: [{ role: "user", content: content("https://example.com/cat.png") }],
          max_tokens: 16,
        }),
        (err) => {
          assert.equal(err.status, 400);
          assert.match(err.message, /image_url/);
          return true;
        },
      );
    });

    it("responses.create (gpt-oss's Responses API)", async () => {
      const response = await client.responses.create({
        model: "@cf/openai/gpt-oss-20b",
        instructions: "Be brief.",
        input: "Say hi.",
        reasoning: { effort: "low" },
        max_output_tokens: 16,
      });
      assert.equal(response.object, "response");
      assert.equal(response.status, "completed");
      assert.equal(typeof response.output_text, "string");
      assert.equal(typeof response.usage.output_tokens, "number");
    });

    it("embeddings.create (the SDK asks for base64 and decodes it)", async () => {
      const res = await client.embeddings.create({ model: MODELS.embeddingsSmall, input: ["first", "second", "third"] });
      assert.equal(res.object, "list");
      assert.equal(res.data.length, 3);
      const dims = res.data[0].embedding.length;
      assert.ok(dims > 0);
      for (const [i, d] of res.data.entries()) {
        assert.equal(d.index, i);
        assert.equal(d.embedding.length, dims);
        assert.ok(d.embedding.every(Number.isFinite));
      }
      assert.ok(res.usage.prompt_tokens > 0);
    });

    it("embeddings.create with encoding_format float matches base64", async () => {
      const asFloat = await client.embeddings.create({ model: MODELS.embeddingsSmall, input: "same text", encoding_format: "float" });
      const asBase64 = await client.embeddings.create({ model: MODELS.embeddingsSmall, input: "same text" });
      const a = asFloat.data[0].embedding;
      const b = asBase64.data[0].embedding;
      assert.equal(a.length, b.length);
      // base64 carries float32; JSON floats are the same values, printed.
      a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-6, `component ${i}: ${x} vs ${b[i]}`));
    });

    it("a bad request throws BadRequestError", async () => {
      await assert.rejects(client.embeddings.create({ model: MODELS.embeddingsSmall, input: [] }), (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 400);
        return true;
      });
    });

    // Speech recognition runs on the synthetic Whisper tiny preset (models/whisper):
    // the text is meaningless, the shapes are what is checked.
    it("audio.transcriptions.create (json, verbose_json with words, srt)", async () => {
      const file = toneWAVFile(2);
      const plain = await client.audio.transcriptions.create({ file: fs.createReadStream(file), model: MODELS.speech });
      assert.equal(typeof plain.text, "string");
      const verbose = await client.audio.transcriptions.create({
        file: fs.createReadStream(file),
        model: MODELS.speech,
        response_format: "verbose_json",
        timestamp_granularities: ["word", "segment"],
      });
      assert.equal(verbose.task, "transcribe");
      assert.ok(Math.abs(verbose.duration - 2) < 0.01, `duration ${verbose.duration}`);
      assert.ok(Array.isArray(verbose.segments) && Array.isArray(verbose.words));
      for (const s of verbose.segments) assert.ok(s.start <= s.end && s.end <= 2.01, JSON.stringify(s));
      const srt = await client.audio.transcriptions.create({ file: fs.createReadStream(file), model: MODELS.speech, response_format: "srt" });
      assert.equal(typeof srt, "string");
    });

    it("audio.translations.create and whisper-1", async () => {
      const out = await client.audio.translations.create({ file: fs.createReadStream(toneWAVFile(1)), model: "whisper-1" });
      assert.equal(typeof out.text, "string");
    });

    it("audio that is not audio throws BadRequestError naming file", async () => {
      const file = await OpenAI.toFile(Buffer.from("not audio at all"), "x.wav");
      await assert.rejects(client.audio.transcriptions.create({ file, model: MODELS.speech }), (err) => {
        assert.equal(err.status, 400);
        assert.equal(err.param, "file");
        return true;
      });
    });
  });
}
