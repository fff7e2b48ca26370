export { renderAnthropic, renderOpenAI, tenantScopedCacheKey } from "./render.ts";
