// Splits a document into overlapping word chunks, embeds all chunks in one
// call and averages them into one document vector.

const CHUNK_WORDS = 40;
const OVERLAP_WORDS = 10;

export function chunk(text) {
  const words = text.split(/\s+/).filter(Boolean);
  const chunks = [];
  for (let start = 0; start < words.length; start += CHUNK_WORDS - OVERLAP_WORDS) {
    chunks.push(words.slice(start, start + CHUNK_WORDS).join(" "));
    if (start + CHUNK_WORDS >= words.length) break;
  }
  return chunks;
}

function mean(vectors) {
  const sum = new Array(vectors[0].length).fill(0);
  for (const v of vectors) v.forEach((x, i) => (sum[i] += x));
  return sum.map((x) => x / vectors.length);
}

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return new Response("POST a document", { status: 405 });
    const { text } = await request.json();
    const chunks = chunk(text ?? "");
    if (chunks.length === 0) return Response.json({ error: "empty document" }, { status: 400 });
    try {
      const { data, shape } = await env.AI.run("@cf/baai/bge-small-en-v1.5", { text: chunks });
      return Response.json({ chunks, shape, embedding: mean(data) });
    } catch (err) {
      return Response.json({ error: err.message, class: err.constructor.name }, { status: 502 });
    }
  },
};
