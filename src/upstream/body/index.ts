export { renderAnthropic, renderOpenAI } from "./render.ts";
