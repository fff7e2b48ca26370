import { invalid } from "../errors.ts";
import { hashOf } from "../hash.ts";
import { isObject, type JsonObject, without } from "../json.ts";
import { DOCUMENT_TOKENS, IMAGE_TOKENS, jsonTokens, textTokens } from "../tokens.ts";
import type { Breakpoint, PrefixChain, Ttl } from "./cache.ts";
import type { MessagesRequest } from "./request.ts";

/** At most this many breakpoints per request, automatic one included. */
export const MAX_BREAKPOINTS = 4;

/** The request's prompt as the cache sees it: blocks in order tools -> system -> messages. */
export interface AnthropicPrompt {
  chain: PrefixChain;
  breakpoints: Breakpoint[];
  totalTokens: number;
}

interface Block {
  path: string;
  type: string;
  tokens: number;
  /** Can carry a breakpoint (not thinking, not empty text). */
  cacheable: boolean;
  marker: unknown;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** Tokens of one content block (README "Token approximation"). */
export function blockTokens(b: JsonObject): number {
  switch (b.type) {
    case "text":
      return textTokens(str(b.text));
    case "image":
      return IMAGE_TOKENS;
    case "document":
      return DOCUMENT_TOKENS;
    case "tool_use":
    case "server_tool_use":
      return jsonTokens(b.input ?? {});
    case "tool_result": {
      if (typeof b.content === "string") return textTokens(b.content);
      if (!Array.isArray(b.content)) return 0;
      return b.content.reduce((n: number, inner) => n + (isObject(inner) ? blockTokens(inner) : 0), 0);
    }
    case "thinking":
      return textTokens(str(b.thinking));
    case "redacted_thinking":
      return textTokens(str(b.data));
    default:
      return jsonTokens(without(b, "cache_control"));
  }
}

/** An image block, or a tool_result whose content holds one. */
export function holdsImage(b: JsonObject): boolean {
  if (b.type === "image") return true;
  return (
    b.type === "tool_result" &&
    Array.isArray(b.content) &&
    b.content.some((i) => isObject(i) && holdsImage(i))
  );
}

/** The hashed bytes of a block: its JSON without cache markers (they do not change the prompt). */
function canonical(b: JsonObject): string {
  const bare = without(b, "cache_control");
  if (Array.isArray(bare.content)) {
    bare.content = bare.content.map((inner) => (isObject(inner) ? without(inner, "cache_control") : inner));
  }
  return JSON.stringify(bare);
}

function parseMarker(v: unknown, path: string): Ttl | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || v.type !== "ephemeral") throw invalid(`${path}.type: Input should be 'ephemeral'`);
  if (v.ttl === undefined || v.ttl === "5m") return "5m";
  if (v.ttl === "1h") return "1h";
  throw invalid(`${path}.ttl: Input should be '5m' or '1h'`);
}

function isEmptyText(b: JsonObject): boolean {
  return b.type === "text" && str(b.text) === "";
}

/** Builds the blocks, the prefix chain and the breakpoints; throws the real API's 400s for bad markers. */
export function buildPrompt(req: MessagesRequest): AnthropicPrompt {
  const blocks: Block[] = [];
  const hashes: string[] = [];
  let h = hashOf("anthropic", req.model);
  const push = (b: JsonObject, path: string, hashInput: string[]) => {
    h = hashOf(h, ...hashInput);
    hashes.push(h);
    const type = str(b.type);
    const thinking = type === "thinking" || type === "redacted_thinking";
    blocks.push({
      path,
      type,
      tokens: blockTokens(b),
      cacheable: !thinking && !isEmptyText(b),
      marker: b.cache_control,
    });
  };
  req.tools.forEach((t, i) => {
    push(t, `tools.${i}`, ["tool", canonical(t)]);
  });
  req.system.forEach((b, i) => {
    if (isEmptyText(b)) throw invalid("system: text content blocks must be non-empty");
    push(b, `system.${i}`, ["system", canonical(b)]);
  });
  // tool_choice, thinking settings and whether the prompt holds images sit between system and messages:
  // changing them invalidates only messages. "Adding or removing images anywhere in the prompt" affects the
  // message blocks, tool_choice and thinking parameters likewise (platform.claude.com/docs/en/build-with-claude/
  // prompt-caching, "What invalidates the cache"). The images flag joins only when true, so image-free
  // prompts keep their chain.
  const settings: JsonObject = { tool_choice: req.toolChoice ?? null, thinking: req.thinking ?? null };
  if (req.messages.some((m) => m.content.some(holdsImage))) settings.images = true;
  h = hashOf(h, "settings", JSON.stringify(settings));
  req.messages.forEach((m, i) => {
    m.content.forEach((b, j) => {
      if (isEmptyText(b) && b.cache_control === undefined) {
        throw invalid("messages: text content blocks must be non-empty");
      }
      const path = m.stringContent ? `messages.${i}.content` : `messages.${i}.content.${j}`;
      push(b, path, ["message", m.role, j === 0 ? "first" : "next", canonical(b)]);
    });
  });
  const cumulative: number[] = [];
  let sum = 0;
  for (const b of blocks) {
    sum += b.tokens;
    cumulative.push(sum);
  }
  return {
    chain: { hashes, cumulative },
    breakpoints: breakpointsOf(blocks, req.cacheControl),
    totalTokens: sum,
  };
}

function breakpointsOf(blocks: Block[], automatic: unknown): Breakpoint[] {
  const found: (Breakpoint & { path: string })[] = [];
  blocks.forEach((b, position) => {
    const ttl = parseMarker(b.marker, `${b.path}.cache_control`);
    if (ttl === undefined) return;
    if (b.type === "thinking" || b.type === "redacted_thinking") {
      throw invalid(`${b.path}.${b.type}.cache_control: Extra inputs are not permitted`);
    }
    if (!b.cacheable) throw invalid(`${b.path}.text: cache_control cannot be set for empty text blocks`);
    found.push({ position, ttl, path: b.path });
  });
  const autoTtl = parseMarker(automatic, "cache_control");
  if (autoTtl !== undefined) {
    let last = blocks.length - 1;
    while (last >= 0 && !blocks[last]?.cacheable) last--;
    if (last >= 0 && !found.some((f) => f.position === last)) {
      found.push({ position: last, ttl: autoTtl, path: blocks[last]?.path ?? "cache_control" });
    }
  }
  if (found.length > MAX_BREAKPOINTS) {
    throw invalid(
      `A maximum of ${MAX_BREAKPOINTS} blocks with cache_control may be provided. Found ${found.length}.`,
    );
  }
  found.sort((a, b) => a.position - b.position);
  let seen5m = false;
  for (const f of found) {
    if (f.ttl === "5m") seen5m = true;
    else if (seen5m) {
      throw invalid(
        `${f.path}.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. Note that blocks are processed in the following order: \`tools\`, \`system\`, \`messages\`.`,
      );
    }
  }
  return found.map(({ position, ttl }) => ({ position, ttl }));
}
