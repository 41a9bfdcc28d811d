// Reads a server-sent-events body into its `data:` payloads, in order.

/** Returns [{event, data}] for each event of an SSE text. */
export function parseSSE(text) {
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    events.push({ event, data: data.join("\n") });
  }
  return events;
}

/**
 * Asserts the Workers AI stream format: token events {"response": "…"},
 * one usage event {"response":"", "usage":{…}}, then [DONE]; returns the text.
 */
export function workersAIStreamText(assert, text) {
  const events = parseSSE(text);
  assert.ok(events.length >= 3, `too few events:\n${text}`);
  assert.equal(events.at(-1).data, "[DONE]", "the stream ends with [DONE]");
  const payloads = events.slice(0, -1).map((e) => {
    assert.equal(e.event, "message", `unexpected event ${e.event}: ${e.data}`);
    return JSON.parse(e.data);
  });
  const usage = payloads.at(-1);
  assert.equal(usage.response, "");
  assert.ok(usage.usage && usage.usage.completion_tokens > 0, `final event carries usage: ${JSON.stringify(usage)}`);
  const tokens = payloads.slice(0, -1);
  assert.ok(tokens.length > 0, "at least one token event");
  for (const t of tokens) assert.equal(typeof t.response, "string");
  return tokens.map((t) => t.response).join("");
}
