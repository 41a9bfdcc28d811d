// A Worker that uses the AI SDK (`ai`) through workers-ai-provider on env.AI:
// generateText, streamText (with a tool), embed/embedMany and transcribe.
// Each route takes a JSON body and answers what the SDK returned, so a test can compare it with
// edgeinfer's own answer to the same request.
import { embed, embedMany, generateText, stepCountIs, streamText, tool, transcribe } from "ai";
import { createWorkersAI } from "workers-ai-provider";
import { z } from "zod";

// The tool the model may call. Its input schema accepts {} (every field is
// optional), and execute echoes its input so the result can be checked.
const getWeather = tool({
  description: "Weather of a city",
  inputSchema: z.object({ city: z.string().optional() }),
  execute: async ({ city }) => ({ city: city ?? "unknown", forecast: "sunny", tempC: 21 }),
});

async function route(path, body, env) {
  const workersai = createWorkersAI({ binding: env.AI });
  // Greedy decoding (temperature 0) gives the same text as the same request
  // sent to edgeinfer directly.
  const common = { temperature: 0, maxOutputTokens: body.maxOutputTokens, maxRetries: 0 };
  switch (path) {
    case "/generate": {
      const r = await generateText({ model: workersai(body.model), prompt: body.prompt, ...common });
      return { text: r.text, reasoning: r.reasoningText ?? null, finishReason: r.finishReason, usage: r.usage };
    }
    case "/stream": {
      const r = streamText({ model: workersai(body.model), prompt: body.prompt, ...common });
      const deltas = [];
      for await (const d of r.textStream) deltas.push(d);
      return { deltas, text: await r.text, reasoning: (await r.reasoningText) ?? null, finishReason: await r.finishReason, usage: await r.usage };
    }
    case "/tool": {
      // Qwen3 without thinking: the model's call and the tool's result, then
      // (with steps: 2) the model's answer to the result.
      const r = streamText({
        model: workersai(body.model, { chat_template_kwargs: { enable_thinking: false } }),
        prompt: body.prompt,
        tools: { get_weather: getWeather },
        stopWhen: stepCountIs(body.steps ?? 1),
        ...common,
      });
      const parts = [];
      for await (const p of r.fullStream) {
        if (p.type === "error") throw p.error;
        parts.push(p.type);
      }
      const strip = ({ toolName, input, output }) => ({ toolName, input, ...(output !== undefined && { output }) });
      return {
        parts,
        toolCalls: (await r.toolCalls).map(strip),
        toolResults: (await r.toolResults).map(strip),
        finishReason: await r.finishReason,
        steps: (await r.steps).map((s) => ({ toolCalls: s.toolCalls.length, text: s.text, finishReason: s.finishReason })),
      };
    }
    case "/embed": {
      const model = workersai.textEmbedding(body.model);
      const one = await embed({ model, value: body.values[0], maxRetries: 0 });
      const many = await embedMany({ model, values: body.values, maxRetries: 0 });
      return { embedding: one.embedding, embeddings: many.embeddings };
    }
    case "/transcribe": {
      // body.audio is the file's bytes in base64; the provider sends them
      // as the model wants them (turbo: base64, the others: a byte array).
      const audio = Uint8Array.from(atob(body.audio), (c) => c.charCodeAt(0));
      const r = await transcribe({ model: workersai.transcription(body.model, body.settings ?? {}), audio, maxRetries: 0 });
      return { text: r.text, segments: r.segments, language: r.language ?? null, durationInSeconds: r.durationInSeconds ?? null };
    }
  }
  return null;
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method !== "POST") return new Response("POST a JSON body to /generate, /stream, /tool, /embed or /transcribe\n");
    try {
      const out = await route(pathname, await request.json(), env);
      return out ? Response.json(out) : new Response("not found", { status: 404 });
    } catch (err) {
      return Response.json({ error: { name: err?.name, message: String(err?.message ?? err) } }, { status: 500 });
    }
  },
};
