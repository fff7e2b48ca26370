import { invalid } from "../errors.ts";

/** OpenAI prompt cache retention policies. */
export type Retention = "in_memory" | "24h";

type Support = "in_memory_only" | "both" | "24h_only";

/** Which retention policies a model accepts (README "OpenAI retention"). */
export function retentionSupport(model: string): Support {
  const m = /^gpt-(\d+)(?:\.(\d+))?/.exec(model);
  if (!m) return "in_memory_only";
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  if (major > 5 || (major === 5 && minor >= 5)) return "24h_only";
  if (major === 5 || (major === 4 && minor === 1)) return "both";
  return "in_memory_only";
}

/** The retention a request gets, or the 400 the simulator answers for an unsupported choice. */
export function resolveRetention(model: string, requested: unknown, fallback: Retention): Retention {
  const support = retentionSupport(model);
  if (requested === undefined || requested === null) {
    if (support === "24h_only") return "24h";
    return support === "both" ? fallback : "in_memory";
  }
  if (requested !== "in_memory" && requested !== "24h") {
    throw invalid(
      `Invalid value: '${String(requested)}'. Supported values are: 'in_memory' and '24h'.`,
      "prompt_cache_retention",
      "invalid_value",
    );
  }
  if (requested === "in_memory" && support === "24h_only") {
    throw invalid(
      "This model is compatible only with 24h extended prompt caching.",
      "prompt_cache_retention",
    );
  }
  if (requested === "24h" && support === "in_memory_only") {
    throw invalid(
      `Extended prompt cache retention ('24h') is not supported with the model '${model}'.`,
      "prompt_cache_retention",
      "unsupported_value",
    );
  }
  return requested;
}
