import { type Calibration, calibrate } from "../prefix/tokens.ts";
import type { PlanFacts, RecordRequest } from "./types.ts";

/**
 * What planning reads from the tracker besides the prefix states: each family's recent request rate (OpenAI
 * cache-key sharding) and each model's token calibration. Pure updates (`countRequest`, `rateAt`) and the
 * SQL that keeps their results (tables `family_rates` and `calibration`, storage.md).
 */

/** Time constant of a family's rate: a burst of requests counts for about this long. */
export const RATE_TAU_MS = 60_000;

/** Requests per minute of a family as of `at`: an exponentially decayed count (each request adds 60 s / tau). */
export interface FamilyRate {
  rate: number;
  at: number;
}

/** The rate after one more request at `at` (a late record counts as of its own time). */
export function countRequest(prev: FamilyRate | undefined, at: number): FamilyRate {
  const unit = 60_000 / RATE_TAU_MS;
  if (!prev) return { rate: unit, at };
  if (at >= prev.at) return { rate: prev.rate * Math.exp(-(at - prev.at) / RATE_TAU_MS) + unit, at };
  return { rate: prev.rate + unit * Math.exp(-(prev.at - at) / RATE_TAU_MS), at: prev.at };
}

/** The rate as of `nowMs` (0 for a family never seen). */
export function rateAt(r: FamilyRate | undefined, nowMs: number): number {
  if (!r) return 0;
  return nowMs <= r.at ? r.rate : r.rate * Math.exp(-(nowMs - r.at) / RATE_TAU_MS);
}

function storedRate(sql: SqlStorage, family: string): FamilyRate | undefined {
  return sql
    .exec<{ rate: number; at: number }>("SELECT rate, at FROM family_rates WHERE family = ?", family)
    .toArray()[0];
}

/** The family's requests per minute as of `nowMs`. */
export function familyRate(sql: SqlStorage, family: string, nowMs: number): number {
  return rateAt(storedRate(sql, family), nowMs);
}

/** The model's calibration, if the tracker has learned one. */
export function calibrationOf(sql: SqlStorage, model: string): Calibration | undefined {
  const row = sql
    .exec<{ ratio: number; weight: number }>("SELECT ratio, weight FROM calibration WHERE model = ?", model)
    .toArray()[0];
  return row ? { ratio: row.ratio, weight: row.weight } : undefined;
}

/**
 * Counts a real request of its family and folds its reported prompt size into the model's calibration;
 * returns both as a lookup at the request's time would (null for what it does not count). Keepalive pings
 * are neither traffic nor estimated; a request without usage or estimate teaches no calibration.
 */
export function notePlanInputs(sql: SqlStorage, r: RecordRequest): PlanFacts | null {
  if (r.keepalive || r.family === null) return null;
  const rate = countRequest(storedRate(sql, r.family), r.at);
  sql.exec(
    "INSERT INTO family_rates (family, rate, at) VALUES (?, ?, ?) ON CONFLICT (family) DO UPDATE SET rate = excluded.rate, at = excluded.at",
    r.family,
    rate.rate,
    rate.at,
  );
  const facts: PlanFacts = { familyRatePerMin: rateAt(rate, r.at) };
  const previous = calibrationOf(sql, r.model);
  const reported = r.usage?.inputTokens ?? 0;
  if (r.result !== "ok" || reported <= 0 || r.estimatedTokens <= 0) {
    if (previous) facts.calibration = previous;
    return facts;
  }
  const c = calibrate(previous, reported, r.estimatedTokens);
  sql.exec(
    "INSERT INTO calibration (model, ratio, weight, at) VALUES (?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET ratio = excluded.ratio, weight = excluded.weight, at = excluded.at",
    r.model,
    c.ratio,
    c.weight,
    r.at,
  );
  facts.calibration = c;
  return facts;
}

/** Keeps the newest `families` rates and `models` calibrations. */
export function trimPlanInputs(sql: SqlStorage, families: number, models: number): void {
  sql.exec(
    "DELETE FROM family_rates WHERE family NOT IN (SELECT family FROM family_rates ORDER BY at DESC LIMIT ?)",
    families,
  );
  sql.exec(
    "DELETE FROM calibration WHERE model NOT IN (SELECT model FROM calibration ORDER BY at DESC LIMIT ?)",
    models,
  );
}
