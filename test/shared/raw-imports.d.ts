/** Text files imported as strings (`?raw`, a Vite query vitest resolves in every project). */
declare module '*?raw' {
  const text: string
  export default text
}
