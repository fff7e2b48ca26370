export * from "./diff.ts";
export { type Calibration, calibrate, calibrated, estimateTextTokens } from "./tokens.ts";
export type * from "./types.ts";
