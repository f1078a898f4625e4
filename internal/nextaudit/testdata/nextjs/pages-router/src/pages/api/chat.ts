import type { NextApiRequest, NextApiResponse } from "next";
import { openai } from "@lib/openai";

export default async function handler(req: NextApiRequest, res: NextApiResponse) {
  const r = await openai.chat.completions.create({ model: "gpt-4.1-mini", messages: [{ role: "user", content: String(req.body.prompt) }] });
  res.status(200).json({ text: r.choices[0].message.content });
}
