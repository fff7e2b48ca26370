import { createSimulator, type Simulator } from "../../../sim/app.ts";
import type { ModelInfo } from "../../../src/economics/models.ts";
import { anthropicUsage, openAIChatUsage, type Usage } from "../../../src/upstream/usage.ts";

/** The provider of a replay: the project's simulator, in process, on the replay's clock. */
export class ReplayProvider {
  /** The replay's time (ms since the trace's start); the simulator reads it. */
  now = 0;
  readonly sim: Simulator;
  /** USD-free input cost, in base-price tokens, of every request and ping sent. */
  inputUnits = 0;
  readTokens = 0;
  write5mTokens = 0;
  write1hTokens = 0;

  readonly model: ModelInfo;

  constructor(model: ModelInfo) {
    this.model = model;
    // The simulator's defaults (its routing seed too), so a replay and the simulator over HTTP agree.
    this.sim = createSimulator({ now: () => this.now });
  }

  /** The simulator's fetch, for code that sends requests itself (the keepalive pinger). */
  readonly fetch = (request: Request): Promise<Response> => Promise.resolve(this.sim.fetch(request));

  /** Sends one request body to a provider path and charges its usage; null usage on an error answer. */
  async send(path: string, body: string, headers: Record<string, string>): Promise<Usage | null> {
    const res = await this.sim.fetch(
      new Request(`http://simulator${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": "replay", ...headers },
        body,
      }),
    );
    const json = (await res.json()) as { usage?: unknown };
    if (!res.ok) throw new Error(`replay: the simulator answered ${res.status}: ${JSON.stringify(json)}`);
    const usage = path.startsWith("/anthropic") ? anthropicUsage(json.usage) : openAIChatUsage(json.usage);
    if (usage) this.charge(usage);
    return usage;
  }

  /** Adds a usage record's input cost (pings are charged here too, through `charge`). */
  charge(u: Usage): void {
    const m = this.model;
    this.inputUnits +=
      u.uncachedTokens +
      u.cacheReadTokens * m.cacheRead +
      u.cacheWrite5mTokens * m.cacheWrite5m +
      u.cacheWrite1hTokens * m.cacheWrite1h;
    this.readTokens += u.cacheReadTokens;
    this.write5mTokens += u.cacheWrite5mTokens;
    this.write1hTokens += u.cacheWrite1hTokens;
  }
}
