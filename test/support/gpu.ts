import { env } from "cloudflare:workers";
import OpenAI from "openai";
import type { GpuRecorded } from "../../sim/gpu/app.ts";
import type { GpuPool } from "../../src/gpu/pool-object.ts";
import type { BackendSnapshot } from "../../src/gpu/pool-state.ts";
import { STOKER, workerFetch } from "./clients.ts";
import type { GpuSimUrls } from "./gpu-pools.ts";

export const gpuSim = (): GpuSimUrls => JSON.parse(env.GPU_SIM) as GpuSimUrls;

/** The official OpenAI SDK pointed at a GPU pool through Stoker. */
export function gpuClient(pool: string, apiKey: string, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({
    baseURL: `${STOKER}/gpu/${pool}/v1`,
    apiKey,
    fetch: workerFetch,
    maxRetries: 0,
    defaultHeaders: headers,
  });
}

/** A raw POST to a GPU route (for fields the SDK does not type, and for error shapes). */
export function gpuPost(
  pool: string,
  path: "chat/completions" | "completions",
  key: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return workerFetch(`${STOKER}/gpu/${pool}/v1/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** What a simulated backend received, filtered by a marker in the body. */
export async function backendRequests(url: string, contains: string): Promise<GpuRecorded[]> {
  const res = await fetch(`${url}/__sim/gpu/requests?contains=${encodeURIComponent(contains)}`);
  return ((await res.json()) as { requests: GpuRecorded[] }).requests;
}

/** What a simulated backend received with header `name` set to `value`. */
export async function backendRequestsWithHeader(
  url: string,
  name: string,
  value: string,
): Promise<GpuRecorded[]> {
  const res = await fetch(`${url}/__sim/gpu/requests?header=${encodeURIComponent(`${name}:${value}`)}`);
  return ((await res.json()) as { requests: GpuRecorded[] }).requests;
}

/** Arms a fault on a simulated backend for requests whose body contains `contains`. */
export async function backendFault(
  url: string,
  fault: { status?: number; delay_ms?: number; count?: number; contains: string },
) {
  const res = await fetch(`${url}/__sim/gpu/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(fault),
  });
  if (!res.ok) throw new Error(`GPU simulator faults API: ${res.status}`);
}

export function poolObject(pool: string): DurableObjectStub<GpuPool> {
  const ns = env.GPU_POOL as DurableObjectNamespace<GpuPool>;
  return ns.get(ns.idFromName(pool));
}

export async function snapshot(pool: string): Promise<BackendSnapshot[]> {
  const answer = await poolObject(pool).snapshot(pool);
  if (!answer.ok) throw new Error(answer.error);
  return answer.value as BackendSnapshot[];
}

/** A long text of distinct words (about `words` x 8 characters), unique per `seed`. */
export function prose(words: number, seed: string): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(`${seed}-${i.toString(36)}`);
  return out.join(" ");
}
