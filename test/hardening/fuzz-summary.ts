/** What one fuzz run reports (printed as FUZZ_SUMMARY by fuzz.test.ts, read by scripts/fuzz.ts). */
export interface Summary {
  seed: number;
  runs: number;
  cases: number;
  forwarded: number;
  rejected: number;
  /** Answered 2xx by Stoker itself (healthz, analytics, admin). */
  served: number;
  statuses: Record<string, number>;
  /** Cases on GPU pool routes, and of those the ones a GPU backend answered. */
  gpu: { cases: number; forwarded: number };
  kinds: Record<string, number>;
  engineFaults: number;
  /** Forwarded upstream error answers whose body the upstream reset (Node's 431 on oversized headers). */
  upstreamBodyResets: number;
  /** Requests whose oversized headers made the simulator reset the connection: Stoker's 502, accounted. */
  upstreamResets: number;
  /** Cases the simulator itself answered with a 5xx (forwarded unchanged): the simulator's bugs, not Stoker's. */
  upstream5xx: string[];
  failures: number;
  /** Cases with at least one failure (a case may fail several checks). */
  failedCases: number;
  failureKinds: Record<string, number>;
  examples: string[];
}
