/** A provider Stoker speaks to: its wire formats, error shapes, keys and model table entries. */
export type Provider = "anthropic" | "openai" | "gemini" | "bedrock";

/** An OpenAI-compatible upstream of COMPAT_UPSTREAMS (`compat:deepseek`): its records and its tenant keys. */
export type CompatUpstreamId = `compat:${string}`;

/** What a tenant's own provider key is stored under: a provider, or a compat upstream. */
export type ProviderKeyName = Provider | CompatUpstreamId;
