import OpenAI from "openai";

const ai = new OpenAI({ apiKey: process.env.OPENAI_API_KEY || "unset" });

// Anyone who finds this URL spends the key's money.
export async function POST(req) {
  const { prompt } = await req.json();
  const r = await ai.chat.completions.create({ model: "gpt-4.1-mini", messages: [{ role: "user", content: prompt }] });
  return Response.json({ text: r.choices[0].message.content });
}
