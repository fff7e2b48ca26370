import { createParser } from "eventsource-parser";
import { createSimulator, type SimulatorOptions } from "../../sim/app.ts";

/** A fresh namespace name, so that tests never share simulator state. */
export function freshNs(): string {
  return `t-${crypto.randomUUID()}`;
}

/** ASCII text of exactly `tokens` tokens under the simulator's approximation (4 bytes per token). */
export function text(tokens: number, tag = "x"): string {
  const unit = `${tag} `;
  return unit.repeat(Math.ceil((tokens * 4) / unit.length) + 1).slice(0, tokens * 4);
}

/** The simulator's token count of a string: ceil(UTF-8 bytes / 4). */
export function tokensOf(s: string): number {
  return Math.ceil(new TextEncoder().encode(s).length / 4);
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary provider JSON.
export type Json = any;

/** A simulator with small helpers around `app.request`. */
export function simulator(options?: SimulatorOptions) {
  const sim = createSimulator(options);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    sim.app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return {
    ...sim,
    post,
    /** POST and parse the JSON answer. */
    async postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
      const res = await post(path, body, headers);
      return { status: res.status, headers: res.headers, json: (await res.json()) as Json };
    },
    async getJson(path: string): Promise<Json> {
      return (await sim.app.request(path)).json();
    },
    /** Advances a namespace's clock. */
    async advance(ns: string, seconds: number): Promise<Json> {
      const res = await sim.app.request(`/__sim/clock?ns=${ns}`, {
        method: "POST",
        body: JSON.stringify({ advance_seconds: seconds }),
      });
      return res.json();
    },
    /** Arms faults in a namespace. */
    async arm(ns: string, fault: unknown): Promise<Response> {
      return sim.app.request(`/__sim/faults?ns=${ns}`, { method: "POST", body: JSON.stringify(fault) });
    },
  };
}

/** Parsed SSE events of a response body. */
export async function sseEvents(res: Response): Promise<{ event: string | undefined; data: string }[]> {
  const events: { event: string | undefined; data: string }[] = [];
  const parser = createParser({ onEvent: (e) => events.push({ event: e.event, data: e.data }) });
  parser.feed(await res.text());
  return events;
}
