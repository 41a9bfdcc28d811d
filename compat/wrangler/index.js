// One entry for the example Workers, so one `wrangler dev` serves them all.
import service from "../workers/ai-service.js";
import streamingChat from "../workers/streaming-chat.js";
import documentPipeline from "../workers/document-pipeline.js";
import chatHistory from "../workers/chat-history.js";

export default {
  fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === "/stream") return streamingChat.fetch(request, env, ctx);
    if (pathname === "/documents") return documentPipeline.fetch(request, env, ctx);
    if (pathname.startsWith("/sessions/")) return chatHistory.fetch(request, env, ctx);
    return service.fetch(request, env, ctx);
  },
};
