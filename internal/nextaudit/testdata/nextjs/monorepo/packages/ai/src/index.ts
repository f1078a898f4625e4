import { GoogleGenAI } from "@google/genai";

export async function suggest(prompt: string): Promise<string> {
  const ai = new GoogleGenAI({ apiKey: process.env.GEMINI_API_KEY });
  const r = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: prompt });
  return r.text ?? "";
}
