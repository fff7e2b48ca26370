// Vite's `?raw` imports: a file's text as a string (the token-estimate corpus).
declare module "*?raw" {
  const content: string;
  export default content;
}
