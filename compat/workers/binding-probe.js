// Calls env.AI as each request describes and reports what came back, with
// nothing edgeinfer-specific: the compat tests send the same calls to this
// Worker under workerd (the genuine Workers AI binding) and under
// `edgeinfer dev` (the service binding to edgeinfer's AI worker) and compare.
//
//   POST /run      {model, inputs, options} → {kind: "value"|"stream"|"response"|"error", …}
//   GET  /models   ?task=…                  → env.AI.models({task})
//   GET  /gateway  ?id=…&provider=…         → env.AI.gateway(id).getUrl(provider)

async function report(call) {
  try {
    const out = await call();
    if (out instanceof Response) {
      return {
        kind: "response",
        status: out.status,
        contentType: out.headers.get("content-type"),
        requestId: Boolean(out.headers.get("cf-ai-req-id")),
        cacheStatus: out.headers.get("cf-aig-cache-status"),
        body: await out.text(),
      };
    }
    if (out instanceof ReadableStream) return { kind: "stream", body: await new Response(out).text() };
    return { kind: "value", value: out };
  } catch (err) {
    return { kind: "error", isError: err instanceof Error, name: err.name, message: err.message };
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/probe/, "");
    if (path === "/run" && request.method === "POST") {
      const { model, inputs, options } = await request.json();
      return Response.json(await report(() => env.AI.run(model, inputs, options)));
    }
    if (path === "/models") {
      return Response.json(await report(() => env.AI.models({ task: url.searchParams.get("task") })));
    }
    if (path === "/gateway") {
      const gateway = env.AI.gateway(url.searchParams.get("id"));
      return Response.json(await report(() => gateway.getUrl(url.searchParams.get("provider") ?? undefined)));
    }
    return Response.json({ error: "not found" }, { status: 404 });
  },
};
