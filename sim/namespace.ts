import { PromptCache } from "./anthropic/cache.ts";
import { Fingerprints } from "./anthropic/diagnostics.ts";
import { Threads } from "./anthropic/threads.ts";
import { CompatCaches } from "./compat/caches.ts";
import type { Provider } from "./errors.ts";
import type { Fault } from "./faults.ts";
import { GeminiCaches } from "./gemini/cache.ts";
import { seededRandom } from "./hash.ts";
import { OpenAICache } from "./openai/cache.ts";
import type { ResolvedOptions } from "./options.ts";
import type { BilledUsage } from "./stats.ts";
import { Stats } from "./stats.ts";

/** One provider request as received (`GET /__sim/requests`). */
export interface RecordedRequest {
  seq: number;
  provider: Provider;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names, values as received (credentials included: the simulator is local). */
  headers: Record<string, string>;
  /** The raw body text. */
  body: string;
  /** Simulated time of arrival, epoch ms and ISO. */
  time_ms: number;
  time: string;
  /** Response status (null while the response is being produced). */
  status: number | null;
  /** The fault applied to it, if any. */
  fault: Fault | null;
  /** What it was billed, for answered generation requests. */
  usage: BilledUsage | null;
}

/** Everything the simulator keeps for one namespace (an organization of the simulated provider). */
export class Namespace {
  readonly name: string;
  readonly #opts: ResolvedOptions;
  offsetMs = 0;
  requests: RecordedRequest[] = [];
  dropped = 0;
  faults: Fault[] = [];
  stats = new Stats();
  anthropic = new PromptCache();
  /** Anthropic Threads: server-held conversations by response id. */
  threads = new Threads();
  /** Anthropic cache diagnostics: each response's prompt fingerprint. */
  fingerprints = new Fingerprints();
  openai: OpenAICache;
  /** Gemini implicit cache and explicit `cachedContents`. */
  gemini = new GeminiCaches();
  /** DeepSeek, xAI, Moonshot and OpenRouter caches (`/compat/{preset}`). */
  compat: CompatCaches;
  /** Bedrock's prompt cache (Claude models): its own, not shared with Anthropic's API. */
  bedrock = new PromptCache();
  #seq = 0;
  /** Body characters of `requests`. */
  #recordedChars = 0;

  constructor(name: string, opts: ResolvedOptions) {
    this.name = name;
    this.#opts = opts;
    this.openai = this.#newOpenAICache();
    this.compat = new CompatCaches(`${opts.seed}\u0000${name}`);
  }

  #newOpenAICache(): OpenAICache {
    const o = this.#opts;
    return new OpenAICache(
      {
        machines: o.openaiMachines,
        spread: o.openaiSpread,
        keyRpmLimit: o.openaiKeyRpmLimit,
        ttlMs: { in_memory: o.openaiInMemoryTtlMs, "24h": 24 * 3600 * 1000 },
      },
      seededRandom(`${o.seed}\u0000${this.name}`),
    );
  }

  /** Simulated time: the base clock plus this namespace's offset. */
  now(): number {
    return this.#opts.now() + this.offsetMs;
  }

  /** Records a provider request (the oldest are dropped past the configured maximum). */
  record(
    req: Pick<RecordedRequest, "provider" | "method" | "path" | "query" | "headers" | "body">,
  ): RecordedRequest {
    const now = this.now();
    const rec: RecordedRequest = {
      seq: ++this.#seq,
      ...req,
      time_ms: now,
      time: new Date(now).toISOString(),
      status: null,
      fault: null,
      usage: null,
    };
    this.requests.push(rec);
    this.#recordedChars += rec.body.length;
    while (
      this.requests.length > 1 &&
      (this.requests.length > this.#opts.maxRecordedRequests ||
        this.#recordedChars > this.#opts.maxRecordedChars)
    ) {
      const old = this.requests.shift() as RecordedRequest;
      this.#recordedChars -= old.body.length;
      this.dropped++;
    }
    return rec;
  }

  /** Forgets everything: caches, clock offset, recordings, faults, stats, routing state. */
  reset(): void {
    this.offsetMs = 0;
    this.requests = [];
    this.#recordedChars = 0;
    this.dropped = 0;
    this.faults = [];
    this.stats = new Stats();
    this.anthropic = new PromptCache();
    this.threads = new Threads();
    this.fingerprints = new Fingerprints();
    this.openai = this.#newOpenAICache();
    this.gemini = new GeminiCaches();
    this.compat = new CompatCaches(`${this.#opts.seed}\u0000${this.name}`);
    this.bedrock = new PromptCache();
    this.#seq = 0;
  }
}

/** The namespaces of one simulator, created on first use. */
export class Namespaces {
  readonly #opts: ResolvedOptions;
  readonly #all = new Map<string, Namespace>();

  constructor(opts: ResolvedOptions) {
    this.#opts = opts;
  }

  get(name: string): Namespace {
    let ns = this.#all.get(name);
    if (!ns) {
      ns = new Namespace(name, this.#opts);
      this.#all.set(name, ns);
    }
    return ns;
  }

  /** Resets every namespace. */
  resetAll(): void {
    for (const ns of this.#all.values()) ns.reset();
  }
}

/**
 * The namespace of a provider request: `x-sim-namespace`, else the API key (`x-api-key`, Gemini's
 * `x-goog-api-key`, a Bearer token, Gemini's `?key=`), else "default".
 */
export function namespaceOf(headers: Headers, url?: URL): string {
  const explicit = headers.get("x-sim-namespace");
  if (explicit) return explicit;
  const key = headers.get("x-api-key") ?? headers.get("x-goog-api-key");
  if (key) return key;
  const query = url?.searchParams.get("key");
  if (query && !headers.get("authorization")) return query;
  // AWS SigV4: the access key id names the account.
  const sigv4 = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\//.exec(headers.get("authorization") ?? "");
  if (sigv4?.[1]) return sigv4[1];
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "");
  return bearer?.[1]?.trim() || "default";
}
