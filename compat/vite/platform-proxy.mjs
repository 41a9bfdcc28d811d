// A Node script using wrangler's getPlatformProxy, as framework dev servers
// do: env.AI from the project's wrangler config, or from the derived one
// `edgeinfer dev` names in EDGEINFER_WRANGLER_CONFIG. Prints what env.AI gave.
import { getPlatformProxy } from "wrangler";

const { env, dispose } = await getPlatformProxy({ configPath: process.env.EDGEINFER_WRANGLER_CONFIG });
// Results are proxies into the runtime: read them before dispose().
let result = {};
try {
  result.embeddings = await env.AI.run("@cf/baai/bge-small-en-v1.5", { text: ["hello", "world"] });
  const stream = await env.AI.run("@cf/meta/llama-3.1-8b-instruct-fp8", { prompt: "Tell me a story.", stream: true, seed: 42, max_tokens: 16 });
  result.stream = await new Response(stream).text();
  result.translation = await env.AI.run("@cf/meta/m2m100-1.2b", { text: "Hello", source_lang: "en", target_lang: "fr" });
  try {
    await env.AI.run("@cf/baai/bge-small-en-v1.5", { text: [] });
  } catch (err) {
    result.error = { name: err.name, message: err.message };
  }
  result = JSON.parse(JSON.stringify(result));
} finally {
  await dispose();
}
console.log(JSON.stringify(result));
