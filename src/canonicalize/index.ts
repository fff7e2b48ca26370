export { analyzeAnthropic } from "./anthropic.ts";
export { heldByServer } from "./held.ts";
export { analyzeOpenAIChat } from "./openaiChat.ts";
export { analyzeOpenAIResponses } from "./openaiResponses.ts";
export * from "./rules.ts";
export { hasVolatileSpan } from "./volatile.ts";
