import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import Anthropic from "@anthropic-ai/sdk";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { GoogleGenAI } from "@google/genai";
import { HttpResponse } from "@smithy/core/transport";
import OpenAI from "openai";
import type { ProviderTotals } from "../../sim/stats.ts";
import worker from "../../src/index.ts";
import { freshTenant, TEST_TENANTS } from "./tenants.ts";

/** Sends a request to the worker under test through its real fetch handler (no network hop). */
export const workerFetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
  exports.default.fetch(new Request(input, init));

export const STOKER = "http://stoker.test";

/** A fresh simulator namespace: caches, clock and recordings of its own. */
export function namespace(): string {
  return crypto.randomUUID();
}

/** The official Anthropic SDK pointed at Stoker, as a user would configure it. */
export function anthropic(
  ns: string,
  opts: { apiKey?: string; headers?: Record<string, string> } = {},
): Anthropic {
  return new Anthropic({
    baseURL: `${STOKER}/anthropic`,
    apiKey: opts.apiKey ?? TEST_TENANTS.alpha,
    fetch: workerFetch,
    maxRetries: 0,
    defaultHeaders: { "x-sim-namespace": ns, ...opts.headers },
  });
}

/**
 * The official Anthropic SDK against the worker run with `vars` over the tests' own bindings (a setting those
 * do not have, such as a hold on the dev clock), each request in an execution context of its own;
 * `settled()` waits for every request's `waitUntil`.
 */
export function anthropicWithVars(ns: string, apiKey: string, vars: Record<string, string>) {
  const varied = { ...env, ...vars } as Env;
  const contexts: ExecutionContext[] = [];
  const client = new Anthropic({
    baseURL: `${STOKER}/anthropic`,
    apiKey,
    maxRetries: 0,
    defaultHeaders: { "x-sim-namespace": ns },
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const ctx = createExecutionContext();
      contexts.push(ctx);
      return worker.fetch(new Request(input, init), varied, ctx);
    },
  });
  return { client, settled: () => Promise.all(contexts.map((c) => waitOnExecutionContext(c))) };
}

/** The official OpenAI SDK pointed at `path` on Stoker. */
function openaiAt(
  path: string,
  ns: string,
  opts: { apiKey?: string; headers?: Record<string, string> },
): OpenAI {
  return new OpenAI({
    baseURL: `${STOKER}${path}`,
    apiKey: opts.apiKey ?? TEST_TENANTS.alpha,
    fetch: workerFetch,
    maxRetries: 0,
    defaultHeaders: { "x-sim-namespace": ns, ...opts.headers },
  });
}

/** The official OpenAI SDK pointed at Stoker. */
export function openai(ns: string, opts: { apiKey?: string; headers?: Record<string, string> } = {}): OpenAI {
  return openaiAt("/openai/v1", ns, opts);
}

/** The official OpenAI SDK pointed at a compat route (`/compat/{name}/v1`): only baseURL and key changed. */
export function compat(
  name: string,
  ns: string,
  opts: { apiKey?: string; headers?: Record<string, string> } = {},
): OpenAI {
  return openaiAt(`/compat/${name}/v1`, ns, opts);
}

/** The official Gemini SDK (`@google/genai`) pointed at Stoker: only its base URL and key changed. */
export function gemini(
  ns: string,
  opts: { apiKey?: string; headers?: Record<string, string> } = {},
): GoogleGenAI {
  return new GoogleGenAI({
    apiKey: opts.apiKey ?? TEST_TENANTS.alpha,
    httpOptions: {
      baseUrl: `${STOKER}/gemini`,
      headers: { "x-sim-namespace": ns, ...opts.headers },
      fetch: workerFetch,
    },
  });
}

/**
 * The official AWS SDK (`@aws-sdk/client-bedrock-runtime`) pointed at Stoker with `endpoint`, the tenant key as
 * its Bedrock API key (`token`, Bearer). Its request handler hands each request to the worker's fetch (no
 * network hop) and the response body back as a stream; everything else is the SDK's own (serialization,
 * event-stream decoding, error mapping). The user-agent provider is given because the SDK's browser runtime
 * config cannot build its default one inside workerd.
 */
export function bedrock(ns: string, opts: { apiKey?: string; headers?: Record<string, string> } = {}) {
  const extra = { "x-sim-namespace": ns, ...opts.headers };
  return new BedrockRuntimeClient({
    region: "us-east-1",
    endpoint: `${STOKER}/bedrock`,
    token: { token: opts.apiKey ?? TEST_TENANTS.alpha },
    authSchemePreference: ["httpBearerAuth"],
    maxAttempts: 1,
    defaultUserAgentProvider: async () => [["stoker-test"]],
    requestHandler: {
      async handle(req: {
        protocol: string;
        hostname: string;
        port?: number;
        path: string;
        query?: Record<string, string | string[] | null>;
        method: string;
        headers: Record<string, string>;
        body?: BodyInit;
      }) {
        const url = `${req.protocol}//${req.hostname}${req.port ? `:${req.port}` : ""}${req.path}`;
        const res = await workerFetch(url, {
          method: req.method,
          headers: { ...req.headers, ...extra },
          body: req.body ?? null,
        });
        const headers: Record<string, string> = {};
        res.headers.forEach((v, k) => {
          headers[k] = v;
        });
        return { response: new HttpResponse({ statusCode: res.status, headers, body: res.body }) };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    },
  });
}

/**
 * A fresh simulator namespace and a tenant no other test in the file uses, with a client (`anthropic`,
 * `openai`, `gemini`, `bedrock`, …) made for them.
 */
export function freshClient<C>(client: (ns: string, opts: { apiKey: string }) => C): {
  ns: string;
  tenant: { id: string; key: string };
  client: C;
} {
  const ns = namespace();
  const tenant = freshTenant();
  return { ns, tenant, client: client(ns, { apiKey: tenant.key }) };
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

/** What the simulator received in a namespace, in order. */
export async function simRequests(ns: string): Promise<RecordedRequest[]> {
  const res = await fetch(`${env.SIM_URL}/__sim/requests?ns=${encodeURIComponent(ns)}`);
  if (!res.ok) throw new Error(`simulator control API: ${res.status}`);
  const json = (await res.json()) as { requests: RecordedRequest[] } | RecordedRequest[];
  return Array.isArray(json) ? json : json.requests;
}

/** Arms a fault in the simulator for the next requests of a namespace. */
export async function simFault(ns: string, fault: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${env.SIM_URL}/__sim/faults?ns=${encodeURIComponent(ns)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(fault),
  });
  if (!res.ok) throw new Error(`simulator faults API: ${res.status} ${await res.text()}`);
}

/** Advances the simulator's clock for a namespace. */
export async function simAdvance(ns: string, seconds: number): Promise<void> {
  const res = await fetch(`${env.SIM_URL}/__sim/clock?ns=${encodeURIComponent(ns)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ advance_seconds: seconds }),
  });
  if (!res.ok) throw new Error(`simulator clock API: ${res.status}`);
}

/** A long, stable system prompt (well above every model's minimum cacheable length). */
export function longText(words: number, seed = "policy"): string {
  const parts: string[] = [];
  for (let i = 0; i < words; i++) parts.push(`${seed}${i % 97}`);
  return parts.join(" ");
}

/** What the simulator billed in a namespace. */
export async function simStats(ns: string): Promise<{
  anthropic: ProviderTotals;
  openai: ProviderTotals;
  gemini: ProviderTotals;
  compat: ProviderTotals;
  bedrock: ProviderTotals;
  total: ProviderTotals;
}> {
  const res = await fetch(`${env.SIM_URL}/__sim/stats?ns=${encodeURIComponent(ns)}`);
  if (!res.ok) throw new Error(`simulator stats API: ${res.status}`);
  return res.json();
}
