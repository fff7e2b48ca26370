export {
  renderAnthropic,
  renderAnthropicBody,
  renderOpenAI,
  renderOpenAIBody,
  tenantScopedCacheKey,
} from "./render.ts";
