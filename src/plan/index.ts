export { LOOKBACK, MAX_BREAKPOINTS, planAnthropic } from "./anthropic.ts";
export { describePlan } from "./describe.ts";
export { planOpenAI } from "./openai.ts";
export type * from "./types.ts";
