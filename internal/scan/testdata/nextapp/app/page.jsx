export default function Home() {
  return (
    <main>
      <h1>Hello</h1>
      <p>A stock page: nothing secret here.</p>
    </main>
  );
}
