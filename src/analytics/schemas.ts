import { z } from "@hono/zod-openapi";

/**
 * The analytics and admin API's schemas: they validate requests, type the handlers, and generate
 * `/v1/openapi.json`; tests parse responses with them too.
 */

export const ErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      param: z.string().nullable(),
      code: z.string().nullable(),
    }),
  })
  .openapi("Error");

const Time = z.string().max(40).optional().openapi({
  description: "ISO 8601 time (2026-11-27T10:00:00Z) or milliseconds since the epoch",
  example: "2026-11-27T00:00:00Z",
});

export const RangeQuery = z.object({
  from: Time.openapi({ description: "Start (inclusive); default: `to` minus 24 hours" }),
  to: Time.openapi({ description: "End (exclusive); default: now" }),
});

export const BUCKETS = { "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000 } as const;
export const TimeseriesQuery = RangeQuery.extend({
  bucket: z.enum(["5m", "1h", "1d"]).default("1h").openapi({ description: "Bucket width" }),
});

export const PageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(50)
    .openapi({ description: "Rows per page (1-200)" }),
  cursor: z
    .string()
    .regex(/^[0-9]{1,7}$/, "cursor must be the next_cursor of a previous page")
    .optional()
    .openapi({ description: "`next_cursor` from the previous page" }),
});

const Keepalive = z.object({
  pings: z.number().int(),
  cost_usd: z.number(),
  rewrites_avoided: z.number().int(),
  rewrites_avoided_usd: z.number(),
});

const FigureFields = {
  requests: z.number().int(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cache_read_tokens: z.number().int(),
  cache_write_tokens: z.number().int(),
  cache_write_5m_tokens: z.number().int(),
  cache_write_1h_tokens: z.number().int(),
  uncached_tokens: z.number().int(),
  token_hit_rate: z.number().min(0).max(1),
  cost_usd: z.number(),
  cost_without_cache_usd: z.number(),
  saved_usd: z.number(),
  keepalive: Keepalive,
  net_saved_usd: z.number(),
};

export const Figures = z.object(FigureFields).openapi("Figures");

const Range = z.object({ from: z.string(), to: z.string() });

const Upstream = z.string().openapi({
  description:
    "`anthropic`, `openai`, `gemini`, `bedrock`, `gpu:<pool>`, or `compat:<name>` (COMPAT_UPSTREAMS)",
  example: "gemini",
});

export const SummarySchema = z
  .object({
    ...FigureFields,
    range: Range,
    by_upstream: z.array(z.object({ upstream: Upstream, ...FigureFields })),
    by_model: z.array(z.object({ upstream: Upstream, model: z.string(), ...FigureFields })),
    gemini_explicit: z
      .object({
        caches_created: z.number().int(),
        ttl_extensions: z.number().int(),
        spend_usd: z.number().openapi({ description: "Creation (input price) and storage bought" }),
        read_tokens: z.number().int(),
        net_saved_usd: z.number().openapi({ description: "Saved by reads from them, minus their spend" }),
      })
      .openapi({ description: "Gemini explicit caches Stoker created and extended for the tenant" }),
  })
  .openapi("Summary");

export const TimeseriesSchema = z
  .object({
    range: Range,
    bucket: z.enum(["5m", "1h", "1d"]),
    buckets: z.array(z.object({ start: z.string(), ...FigureFields })),
  })
  .openapi("Timeseries");

export const PrefixSchema = z
  .object({
    id: z
      .string()
      .openapi({ description: "Short id: the first 12 hex digits of the tenant-salted chain hash" }),
    family: z.string(),
    upstream: z.string(),
    model: z.string(),
    tokens: z.number().int(),
    seen: z.number().int(),
    hits: z.number().int(),
    misses: z.number().int(),
    writes: z.number().int(),
    writes_1h: z
      .number()
      .int()
      .openapi({ description: "Of `writes`, those for the hour (a higher premium)" }),
    last_seen: z.string(),
    last_hit: z.string().nullable(),
    ttl_left_seconds: z.number().int(),
    keepalive: z.object({ status: z.string(), pings: z.number().int() }),
    saved_usd: z
      .number()
      .openapi({ description: "Reads at the cached price instead of the base price, less write premiums" }),
  })
  .openapi("Prefix");

export const PrefixesSchema = z
  .object({ prefixes: z.array(PrefixSchema), next_cursor: z.string().nullable() })
  .openapi("Prefixes");

export const BusterSchema = z
  .object({
    kind: z.string().openapi({ description: "tools | system | params | message" }),
    segment: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Segment index in the prompt (null for messages)" }),
    volatile: z.boolean(),
    upstream: z.string(),
    model: z.string(),
    count: z.number().int(),
    tokens_lost: z.number().int(),
    cost_usd: z.number(),
    first_seen: z.string(),
    last_seen: z.string(),
    excerpt: z
      .string()
      .nullable()
      .openapi({ description: "The volatile line, values replaced by their kind" }),
    example_request_id: z.string().nullable(),
    fix: z.string(),
    provider_reasons: z.record(z.string(), z.number().int()).openapi({
      description:
        "Anthropic cache diagnostics: the provider's own `cache_miss_reason` for this group's misses, counted (empty when it gave none)",
    }),
    provider_compared: z.number().int().openapi({
      description: "Findings the provider gave a verdict on (any reason but previous_message_not_found)",
    }),
    provider_agrees: z.number().int().openapi({
      description:
        "Of those, findings whose provider reason is the one Stoker's kind maps to (tools -> tools_changed, system -> system_changed, message -> messages_changed, params -> unavailable)",
    }),
  })
  .openapi("Buster");

export const ProviderAgreementSchema = z
  .object({
    compared: z
      .number()
      .int()
      .openapi({ description: "All findings the provider gave a verdict on (not only this page)" }),
    agree: z
      .number()
      .int()
      .openapi({ description: "Of those, findings where Stoker and the provider agree" }),
    share: z.number().nullable().openapi({ description: "agree / compared; null before any comparison" }),
    stoker_only: z.number().int().openapi({ description: "Findings without a provider reason" }),
    provider_only: z.number().int().openapi({
      description:
        "Requests the provider reported a divergence for (a *_changed reason) that Stoker found no buster behind",
    }),
    provider_reasons: z
      .record(z.string(), z.number().int())
      .openapi({ description: "Every provider cache_miss_reason on the stored requests (35 days), counted" }),
  })
  .openapi("ProviderAgreement");

export const BustersSchema = z
  .object({
    busters: z.array(BusterSchema),
    next_cursor: z.string().nullable(),
    provider_agreement: ProviderAgreementSchema,
  })
  .openapi("Busters");

// Admin

const RulesSchema = z
  .object({
    schemaKeys: z.boolean(),
    argumentKeys: z.boolean(),
    toolOrder: z.boolean(),
    lineEndings: z.boolean(),
    volatileToTail: z.boolean(),
  })
  .partial()
  .strict()
  .openapi("CanonicalizeRules");

const KeepaliveSettingsSchema = z
  .object({
    enabled: z.boolean(),
    maxUsdPerDay: z.number().min(0).max(100_000).openapi({ description: "Daily keepalive budget in USD" }),
    maxPingsPerEntry: z.number().int().min(0).max(1000),
    maxHorizonMs: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400_000),
    minPrefixTokens: z.number().int().min(0).max(10_000_000),
  })
  .partial()
  .strict()
  .openapi("KeepaliveSettings");

const CacheSettingsSchema = z
  .object({
    allow1h: z.boolean().openapi({ description: "Anthropic 1-hour writes may be chosen (default true)" }),
    disabled: z
      .boolean()
      .openapi({ description: "Stoker adds no breakpoints, cache key or retention (default false)" }),
    retention24h: z.boolean().openapi({
      description: 'OpenAI prompt_cache_retention "24h" on models that accept it (default false: opt-in)',
    }),
    geminiExplicit: z.boolean().openapi({
      description:
        "Gemini explicit caches created and extended by Stoker where reuse pays creation plus storage (default true)",
    }),
  })
  .partial()
  .strict()
  .openapi("CacheSettings");

export const TenantId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "tenant id must be 1-64 characters of [A-Za-z0-9_-]");

export const CreateTenantBody = z
  .object({
    id: TenantId,
    canonicalize: RulesSchema.optional(),
    keepalive: KeepaliveSettingsSchema.optional(),
    cache: CacheSettingsSchema.optional(),
  })
  .strict();

export const SettingsBody = z
  .object({
    canonicalize: RulesSchema.optional(),
    keepalive: KeepaliveSettingsSchema.optional(),
    cache: CacheSettingsSchema.optional(),
  })
  .strict()
  .refine(
    (b) => b.canonicalize !== undefined || b.keepalive !== undefined || b.cache !== undefined,
    "set canonicalize, keepalive and/or cache",
  );

const ProviderKey = z
  .string()
  .min(8)
  .max(512)
  .regex(/^[\x21-\x7e]+$/, "a provider key is printable ASCII without spaces");
/**
 * Bedrock: a Bedrock API key (sent as Bearer; short-term keys run past 1,000 characters) or AWS credentials
 * that sign requests (SigV4), stored sealed as one JSON string (src/upstream/bedrock-auth.ts reads it).
 */
const BedrockKey = z.union([
  ProviderKey.max(4096),
  z
    .object({
      access_key_id: z.string().regex(/^[A-Z0-9]{16,128}$/, "an AWS access key id"),
      secret_access_key: ProviderKey.max(256),
      session_token: ProviderKey.max(4096).optional(),
    })
    .strict()
    .transform((k) =>
      JSON.stringify({
        accessKeyId: k.access_key_id,
        secretAccessKey: k.secret_access_key,
        ...(k.session_token ? { sessionToken: k.session_token } : {}),
      }),
    ),
]);
export const ProviderKeysBody = z
  .object({
    anthropic: ProviderKey.nullable().optional(),
    openai: ProviderKey.nullable().optional(),
    gemini: ProviderKey.nullable().optional(),
    compat: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/), ProviderKey.nullable())
      .optional()
      .openapi({ description: "Keys for compat upstreams (COMPAT_UPSTREAMS) by upstream name; null clears" }),
    bedrock: BedrockKey.nullable().optional(),
  })
  .strict()
  .refine(
    (b) =>
      b.anthropic !== undefined ||
      b.openai !== undefined ||
      b.gemini !== undefined ||
      b.bedrock !== undefined ||
      (b.compat !== undefined && Object.keys(b.compat).length > 0),
    "set anthropic, openai, gemini, bedrock and/or compat (null clears)",
  );

export const TenantSchema = z
  .object({
    id: z.string(),
    source: z.enum(["directory", "config"]),
    generation: z.number().int().openapi({
      description: "Which creation of this id: a tenant created again after a deletion starts with no data",
    }),
    created_at: z.string().nullable(),
    key_set: z.boolean(),
    key_rotated_at: z.string().nullable(),
    provider_keys: z.object({
      anthropic: z.boolean(),
      openai: z.boolean(),
      gemini: z.boolean(),
      bedrock: z.boolean(),
    }),
    provider_key_state: z
      .object({
        anthropic: z.enum(["unset", "set", "broken"]),
        openai: z.enum(["unset", "set", "broken"]),
        gemini: z.enum(["unset", "set", "broken"]),
        bedrock: z.enum(["unset", "set", "broken"]),
      })
      .openapi({
        description:
          "broken: set, but it no longer opens (sealed under another STOKER_SECRET); that provider's requests get 403 until it is set again",
      }),
    compat_key_state: z.record(z.string(), z.enum(["set", "broken"])).openapi({
      description: "The tenant's own keys for compat upstreams, by upstream name (only those set)",
    }),
    canonicalize: RulesSchema,
    cache: z.object({
      allow1h: z.boolean(),
      disabled: z.boolean(),
      retention24h: z.boolean(),
      geminiExplicit: z.boolean(),
    }),
    keepalive: z.object({
      enabled: z.boolean(),
      maxUsdPerDay: z.number(),
      maxPingsPerEntry: z.number(),
      maxHorizonMs: z.number(),
      minPrefixTokens: z.number(),
    }),
    storage: z
      .object({
        bytes: z.number(),
        rows: z.record(z.string(), z.number()),
        limits: z.object({ requests: z.number(), lineages: z.number() }),
      })
      .openapi({ description: "The tenant's tracker: SQLite bytes, rows per table, and the row bounds" }),
  })
  .openapi("Tenant");

export const TenantWithKeySchema = z
  .object({ tenant: TenantSchema, key: z.string().openapi({ description: "Shown once; store it now" }) })
  .openapi("TenantWithKey");

export const TenantListSchema = z
  .object({ tenants: z.array(TenantSchema), next_cursor: z.string().nullable() })
  .openapi("TenantList");

export const AuditSchema = z
  .object({
    entries: z.array(
      z.object({
        id: z.number().int(),
        at: z.string(),
        actor: z.string(),
        action: z.string(),
        tenant: z.string(),
        detail: z.record(z.string(), z.unknown()),
        request_id: z.string(),
      }),
    ),
    next_cursor: z.string().nullable(),
  })
  .openapi("AuditLog");
