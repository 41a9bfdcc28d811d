// Streams a chat reply to the browser as server-sent events, passing the
// binding's `stream: true` output straight through.

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return new Response("POST a chat", { status: 405 });
    const { messages, max_tokens = 48, seed } = await request.json();
    try {
      const stream = await env.AI.run("@cf/meta/llama-2-7b-chat-int8", { messages, max_tokens, seed, stream: true });
      return new Response(stream, {
        headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
      });
    } catch (err) {
      return Response.json({ error: err.message, class: err.constructor.name }, { status: 502 });
    }
  },
};
