export * from "./breakEven.ts";
export * from "./cost.ts";
export * from "./models.ts";
