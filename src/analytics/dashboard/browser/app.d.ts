// app.js is served as text (wrangler [[rules]]), not imported as a module.
declare const text: string;
export default text;
