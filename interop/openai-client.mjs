// OpenAI's own JavaScript SDK, unmodified, against a node's OpenAI-compatible
// API: node openai-client.mjs BASE_URL MODEL [AUDIO_FILE]. Each call prints
// one JSON line {"case", ...what the SDK returned}; an SDK error prints
// {"case", "error", "status"}.
import { File } from "node:buffer";
import fs from "node:fs";
import OpenAI from "openai";

// Node 18 (Debian 12's) has no global File, which the SDK's uploads need.
globalThis.File ??= File;

const [baseURL, model, audio] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "outpost-needs-no-key", maxRetries: 0 });

async function run(name, fn) {
  try {
    console.log(JSON.stringify({ case: name, ...(await fn()) }));
  } catch (err) {
    console.log(JSON.stringify({ case: name, error: String(err?.message ?? err), status: err?.status ?? null }));
  }
}

await run("models", async () => {
  const page = await client.models.list();
  return { ids: page.data.map((m) => m.id) };
});

await run("chat", async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [
      { role: "developer", content: "Answer briefly." },
      { role: "user", content: [{ type: "text", text: "Patient reports fever." }] },
    ],
    max_completion_tokens: 8,
    seed: 1,
  });
  return { content: r.choices[0].message.content, finish: r.choices[0].finish_reason, usage: r.usage };
});

await run("stream", async () => {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: "Hello" }],
    max_tokens: 6,
    seed: 2,
    stream: true,
    stream_options: { include_usage: true },
  });
  let content = "";
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      content += c.delta?.content ?? "";
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { content, finish, usage, chunks };
});

await run("json_schema", async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: "Assess" }],
    max_tokens: 200,
    temperature: 0.7,
    seed: 3,
    response_format: {
      type: "json_schema",
      json_schema: {
        name: "dx",
        schema: {
          type: "object",
          properties: {
            condition: { type: "string", maxLength: 20 },
            likelihood: { type: "string", enum: ["low", "moderate", "high"] },
          },
          required: ["condition", "likelihood"],
        },
      },
    },
  });
  return { content: r.choices[0].message.content, finish: r.choices[0].finish_reason };
});

await run("unknown_model", async () => {
  await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] });
  return {};
});

if (audio) {
  await run("transcription", async () => {
    const r = await client.audio.transcriptions.create({
      file: fs.createReadStream(audio),
      model: "whisper-1",
      response_format: "verbose_json",
      timestamp_granularities: ["segment"],
    });
    return { text: r.text, duration: r.duration, segments: r.segments?.length ?? 0, language: r.language };
  });
  await run("transcription_text", async () => {
    const r = await client.audio.transcriptions.create({ file: fs.createReadStream(audio), model: "whisper-1", response_format: "text" });
    return { type: typeof r, text: String(r) };
  });
}
