/** A provider Stoker speaks to: its wire formats, error shapes, keys and model table entries. */
export type Provider = "anthropic" | "openai" | "gemini" | "bedrock";
