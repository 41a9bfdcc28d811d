// A chat whose history lives in KV between requests, one key per session.

const SYSTEM = { role: "system", content: "You are a helpful assistant. Keep answers short." };
const MAX_TURNS = 10;

export default {
  async fetch(request, env) {
    const match = new URL(request.url).pathname.match(/^\/sessions\/([\w-]+)$/);
    if (!match) return new Response("not found", { status: 404 });
    const key = `chat:${match[1]}`;
    if (request.method === "GET") {
      return Response.json((await env.HISTORY.get(key, "json")) ?? []);
    }
    if (request.method === "DELETE") {
      await env.HISTORY.delete(key);
      return new Response(null, { status: 204 });
    }
    const { message } = await request.json();
    const history = (await env.HISTORY.get(key, "json")) ?? [SYSTEM];
    history.push({ role: "user", content: message });
    try {
      const { response, usage } = await env.AI.run("@cf/meta/llama-2-7b-chat-int8", {
        messages: history,
        max_tokens: 32,
      });
      history.push({ role: "assistant", content: response });
      // Keep the system prompt and the most recent turns.
      const trimmed = [history[0], ...history.slice(1).slice(-2 * MAX_TURNS)];
      await env.HISTORY.put(key, JSON.stringify(trimmed), { expirationTtl: 86400 });
      return Response.json({ reply: response, usage, messages: trimmed.length });
    } catch (err) {
      return Response.json({ error: err.message, class: err.constructor.name }, { status: 502 });
    }
  },
};
