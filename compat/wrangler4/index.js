// The wrangler 4 fixture's entry: the example Workers (as compat/wrangler/
// serves them) and, under /probe, the binding probe.
import examples from "../wrangler/index.js";
import probe from "../workers/binding-probe.js";

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname.startsWith("/probe/")) return probe.fetch(request, env, ctx);
    return examples.fetch(request, env, ctx);
  },
};
