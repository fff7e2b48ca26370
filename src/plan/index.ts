export { LOOKBACK, MAX_BREAKPOINTS, planAnthropic } from "./anthropic.ts";
export { describePlan } from "./describe.ts";
export { KEY_RATE_PER_MIN, planOpenAI, shardCount } from "./openai.ts";
export { PRIORS } from "./reuse.ts";
export type * from "./types.ts";
