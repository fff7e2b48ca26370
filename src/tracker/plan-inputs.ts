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

/** Where the rates and calibrations are kept: SQLite in the Tracker, memory in the economics replay. */
export interface PlanInputStore {
  rate(family: string): FamilyRate | undefined;
  setRate(family: string, rate: FamilyRate): void;
  calibration(model: string): Calibration | undefined;
  setCalibration(model: string, c: Calibration, at: number): void;
}

/** The tables `family_rates` and `calibration`. */
export class SqlPlanInputStore implements PlanInputStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  rate(family: string): FamilyRate | undefined {
    return this.#sql
      .exec<{ rate: number; at: number }>("SELECT rate, at FROM family_rates WHERE family = ?", family)
      .toArray()[0];
  }

  setRate(family: string, rate: FamilyRate): void {
    this.#sql.exec(
      "INSERT INTO family_rates (family, rate, at) VALUES (?, ?, ?) ON CONFLICT (family) DO UPDATE SET rate = excluded.rate, at = excluded.at",
      family,
      rate.rate,
      rate.at,
    );
  }

  calibration(model: string): Calibration | undefined {
    const row = this.#sql
      .exec<{ ratio: number; weight: number }>("SELECT ratio, weight FROM calibration WHERE model = ?", model)
      .toArray()[0];
    return row ? { ratio: row.ratio, weight: row.weight } : undefined;
  }

  setCalibration(model: string, c: Calibration, at: number): void {
    this.#sql.exec(
      "INSERT INTO calibration (model, ratio, weight, at) VALUES (?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET ratio = excluded.ratio, weight = excluded.weight, at = excluded.at",
      model,
      c.ratio,
      c.weight,
      at,
    );
  }

  /** Keeps the newest `families` rates and `models` calibrations. */
  trim(families: number, models: number): void {
    this.#sql.exec(
      "DELETE FROM family_rates WHERE family NOT IN (SELECT family FROM family_rates ORDER BY at DESC LIMIT ?)",
      families,
    );
    this.#sql.exec(
      "DELETE FROM calibration WHERE model NOT IN (SELECT model FROM calibration ORDER BY at DESC LIMIT ?)",
      models,
    );
  }
}

/** What a lookup in `scope` at `nowMs` answers besides the prefix states. */
export function planFacts(
  store: PlanInputStore,
  scope: { family: string; model: string },
  nowMs: number,
): PlanFacts {
  const calibration = store.calibration(scope.model);
  const facts: PlanFacts = { familyRatePerMin: rateAt(store.rate(scope.family), nowMs) };
  if (calibration) facts.calibration = calibration;
  return facts;
}

/**
 * Counts a real request of its family and folds its reported prompt size into the model's calibration;
 * returns both as a lookup at the request's time would (null for what it does not count). Keepalive pings
 * are neither traffic nor estimated; a request without usage or estimate teaches no calibration.
 */
export function notePlanInputs(store: PlanInputStore, r: RecordRequest): PlanFacts | null {
  if (r.keepalive || r.family === null) return null;
  const rate = countRequest(store.rate(r.family), r.at);
  store.setRate(r.family, rate);
  const facts: PlanFacts = { familyRatePerMin: rateAt(rate, r.at) };
  const previous = store.calibration(r.model);
  const reported = r.usage?.inputTokens ?? 0;
  if (r.result !== "ok" || reported <= 0 || r.estimatedTokens <= 0) {
    if (previous) facts.calibration = previous;
    return facts;
  }
  const c = calibrate(previous, reported, r.estimatedTokens);
  store.setCalibration(r.model, c, r.at);
  facts.calibration = c;
  return facts;
}
