import type { NextApiRequest, NextApiResponse } from "next";
import { getServerSession } from "next-auth/next";
import { openai } from "@lib/openai";

export default async function handler(req: NextApiRequest, res: NextApiResponse) {
  const session = await getServerSession(req, res, {});
  if (!session) return res.status(401).end();
  const r = await openai.chat.completions.create({ model: "gpt-4.1-mini", messages: [{ role: "user", content: String(req.body.text) }] });
  res.status(200).json({ text: r.choices[0].message.content });
}
