// A multi-model Worker written the way Workers AI users write one: a small
// service class over env.AI and a router. Nothing here knows about edgeinfer.

const MODELS = {
  chat: "@cf/meta/llama-2-7b-chat-int8",
  embeddings: "@cf/baai/bge-base-en-v1.5",
  image: "@cf/microsoft/resnet-50",
  translation: "@cf/meta/m2m100-1.2b",
};

export class AIService {
  constructor(ai) {
    this.ai = ai;
  }

  chat({ messages, prompt, max_tokens = 64 }) {
    const input = messages ? { messages } : { prompt };
    return this.ai.run(MODELS.chat, { ...input, max_tokens });
  }

  embed(texts) {
    return this.ai.run(MODELS.embeddings, { text: texts });
  }

  classify(bytes) {
    return this.ai.run(MODELS.image, { image: [...new Uint8Array(bytes)] });
  }

  translate({ text, source_lang = "en", target_lang }) {
    return this.ai.run(MODELS.translation, { text, source_lang, target_lang });
  }

  // Several prompts over one text, run concurrently.
  async analyze(text) {
    const ask = (instruction) =>
      this.ai
        .run(MODELS.chat, {
          messages: [
            { role: "system", content: instruction },
            { role: "user", content: text },
          ],
          max_tokens: 32,
        })
        .then((r) => r.response.trim());
    const [sentiment, keywords, summary] = await Promise.all([
      ask("Answer with one word: positive, negative or neutral."),
      ask("List up to five keywords, comma separated."),
      ask("Summarize in one sentence."),
    ]);
    return {
      sentiment,
      keywords: keywords.split(",").map((k) => k.trim()).filter(Boolean),
      summary,
    };
  }

  // Mixed tasks; one failing task must not fail the others.
  async batch(tasks) {
    const settled = await Promise.allSettled(tasks.map((task) => this.#runTask(task)));
    return settled.map((s, i) =>
      s.status === "fulfilled"
        ? { type: tasks[i].type, ok: true, result: s.value }
        : { type: tasks[i].type, ok: false, error: s.reason.message },
    );
  }

  #runTask(task) {
    switch (task.type) {
      case "chat":
        return this.chat(task);
      case "embeddings":
        return this.embed(task.text);
      case "translate":
        return this.translate(task);
      case "classify":
        return this.classify(Uint8Array.from(task.image));
      default:
        return Promise.reject(new Error(`unknown task type ${task.type}`));
    }
  }
}

const json = (body, status = 200) => Response.json(body, { status });

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const service = new AIService(env.AI);
    try {
      if (request.method === "GET" && pathname === "/models") {
        return json(await env.AI.models({ task: new URL(request.url).searchParams.get("task") ?? undefined }));
      }
      if (request.method !== "POST") return json({ error: "POST only" }, 405);
      switch (pathname) {
        case "/chat":
          return json(await service.chat(await request.json()));
        case "/embeddings": {
          const { texts } = await request.json();
          return json(await service.embed(texts));
        }
        case "/classify": {
          const form = await request.formData();
          const file = form.get("image");
          if (!file || typeof file === "string") return json({ error: "upload an image file as 'image'" }, 400);
          return json(await service.classify(await file.arrayBuffer()));
        }
        case "/translate":
          return json(await service.translate(await request.json()));
        case "/analyze": {
          const { text } = await request.json();
          return json(await service.analyze(text));
        }
        case "/batch": {
          const { tasks } = await request.json();
          return json(await service.batch(tasks));
        }
      }
      return json({ error: "not found" }, 404);
    } catch (err) {
      // What a Worker's logs would show: the error class, its name and message.
      return json(
        {
          error: err.message,
          name: err.name,
          class: err.constructor.name,
          internalCode: env.AI.lastRequestInternalStatusCode,
          httpStatus: env.AI.lastRequestHttpStatusCode,
        },
        502,
      );
    }
  },
};
