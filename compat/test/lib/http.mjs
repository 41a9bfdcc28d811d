// Plain HTTP helpers for the tests.
import { accountId, engineURL } from "./edgeinfer.mjs";

/** POSTs JSON and returns {status, headers, body} with the body parsed. */
export async function postJSON(url, payload) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload) });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

/** Embeds texts through edgeinfer's REST API, for comparing with what a Worker computed. */
export async function directEmbeddings(model, texts) {
  const { status, body } = await postJSON(`${engineURL}/client/v4/accounts/${accountId}/ai/run/${model}`, { text: texts });
  if (status !== 200 || !body.success) throw new Error(`REST embeddings failed (${status}): ${JSON.stringify(body)}`);
  return body.result;
}
