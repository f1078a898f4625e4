// getServerSideProps runs on the server only; its imports stay there.
import type { GetServerSideProps } from "next";
import OpenAI from "openai";

type Props = { title: string };

export const getServerSideProps: GetServerSideProps<Props> = async () => {
  const ai = new OpenAI({ apiKey: process.env.OPENAI_API_KEY });
  const r = await ai.models.list();
  return { props: { title: String(r.data.length) } };
};

export default function Ssr({ title }: Props) {
  return <h1>{title}</h1>;
}
