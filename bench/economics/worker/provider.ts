import { createSimulator, type Simulator } from "../../../sim/app.ts";
import type { ModelInfo } from "../../../src/economics/models.ts";
import { type AnswerEnd, anthropicAnswerEnd, openAIChatJsonAnswerEnd } from "../../../src/upstream/answer.ts";
import { anthropicUsage, openAIChatUsage, type Usage } from "../../../src/upstream/usage.ts";
import type { ReplayResult } from "../engine.ts";

/**
 * The provider of a replay: the project's simulator, in process, on the replay's clock, and the bill of
 * everything it answered (input cost in base-price tokens: uncached 1, read, 5m and 1h writes at the model's
 * multipliers), requests and pings apart.
 */
export class ReplayProvider {
  /** The replay's time (epoch ms); the simulator reads it. */
  now = 0;
  readonly sim: Simulator;
  readonly model: ModelInfo;
  #units = 0;
  #pingUnits = 0;
  #pings = 0;
  #requestInput = 0;
  #read = 0;
  #write5m = 0;
  #write1h = 0;
  readonly #requestReads: Float64Array;
  readonly #timeline: Float64Array;

  constructor(model: ModelInfo, requests: number) {
    this.model = model;
    // The simulator's defaults (its routing seed too), so a replay and the simulator over HTTP agree.
    this.sim = createSimulator({ now: () => this.now });
    this.#requestReads = new Float64Array(requests);
    this.#timeline = new Float64Array(requests);
  }

  /** The simulator's fetch, for code that sends requests itself (the keepalive pinger). */
  readonly fetch = (request: Request): Promise<Response> => Promise.resolve(this.sim.fetch(request));

  /** Sends one request body to a provider path; its usage (not yet charged) and how its answer ended. */
  async send(
    path: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<{ usage: Usage | null; answer: AnswerEnd | null }> {
    const res = await this.sim.fetch(
      new Request(`http://simulator${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": "replay", ...headers },
        body,
      }),
    );
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`replay: the simulator answered ${res.status}: ${JSON.stringify(json)}`);
    return path.startsWith("/anthropic")
      ? { usage: anthropicUsage(json.usage), answer: anthropicAnswerEnd(json.stop_reason) }
      : { usage: openAIChatUsage(json.usage), answer: openAIChatJsonAnswerEnd(json) };
  }

  /** Charges the `j`-th request of the trace. */
  chargeRequest(j: number, u: Usage | null): void {
    if (!u) return;
    this.#charge(u);
    this.#read += u.cacheReadTokens;
    this.#requestInput += u.inputTokens;
    this.#requestReads[j] = u.cacheReadTokens;
    this.#timeline[j] = this.#units;
  }

  /** Charges a keepalive ping. */
  chargePing(u: Usage | null): void {
    if (!u) return;
    this.#pingUnits += this.#charge(u);
    this.#pings++;
  }

  #charge(u: Usage): number {
    const m = this.model;
    const units =
      u.uncachedTokens +
      u.cacheReadTokens * m.cacheRead +
      u.cacheWrite5mTokens * m.cacheWrite5m +
      u.cacheWrite1hTokens * m.cacheWrite1h;
    this.#units += units;
    this.#write5m += u.cacheWrite5mTokens;
    this.#write1h += u.cacheWrite1hTokens;
    return units;
  }

  /** The bill as a replay result: costs as fractions of the requests' prompt tokens sent uncached. */
  result(policy: string): ReplayResult {
    const total = this.#requestInput || 1;
    return {
      policy,
      cost: this.#units / total,
      // Read by the requests (a hit rate); what pings read is in their cost.
      readTokens: this.#read,
      write5mTokens: this.#write5m,
      write1hTokens: this.#write1h,
      pings: this.#pings,
      pingCost: this.#pingUnits / total,
      prefixPingCost: this.#pingUnits / total,
      totalInputTokens: this.#requestInput,
      requestReads: this.#requestReads,
      timeline: this.#timeline.map((u) => u / total),
    };
  }
}
