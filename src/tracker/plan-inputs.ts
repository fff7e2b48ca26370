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
  /**
   * Rows read or written lately, null where the table has none (least recently used first): only this store
   * writes the tables, so they stay true until a rollback or a trim (`forget`, `trim`).
   */
  readonly #rates = new Map<string, FamilyRate | null>();
  readonly #calibrations = new Map<string, Calibration | null>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** What was stored is gone (rolled back, or the storage deleted): read the rows again. */
  forget(): void {
    this.#rates.clear();
    this.#calibrations.clear();
  }

  rate(family: string): FamilyRate | undefined {
    let row = this.#rates.get(family);
    if (row === undefined)
      row =
        this.#sql
          .exec<{ rate: number; at: number }>("SELECT rate, at FROM family_rates WHERE family = ?", family)
          .toArray()[0] ?? null;
    keep(this.#rates, family, row);
    return row ? { rate: row.rate, at: row.at } : undefined;
  }

  setRate(family: string, rate: FamilyRate): void {
    this.#sql.exec(
      "INSERT INTO family_rates (family, rate, at) VALUES (?, ?, ?) ON CONFLICT (family) DO UPDATE SET rate = excluded.rate, at = excluded.at",
      family,
      rate.rate,
      rate.at,
    );
    keep(this.#rates, family, { rate: rate.rate, at: rate.at });
  }

  calibration(model: string): Calibration | undefined {
    let row = this.#calibrations.get(model);
    if (row === undefined)
      row =
        this.#sql
          .exec<{ ratio: number; weight: number }>(
            "SELECT ratio, weight FROM calibration WHERE model = ?",
            model,
          )
          .toArray()[0] ?? null;
    keep(this.#calibrations, model, row);
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
    keep(this.#calibrations, model, { ratio: c.ratio, weight: c.weight });
  }

  /** Keeps the newest `families` rates and `models` calibrations. */
  trim(families: number, models: number): void {
    this.forget();
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

/** Rows of each table kept in memory at most (a tenant's busiest families and models). */
const MAX_HELD_ROWS = 1024;

/** Keeps a row as most recently used, the least recently used going beyond MAX_HELD_ROWS. */
function keep<T>(rows: Map<string, T>, key: string, row: T): void {
  rows.delete(key);
  rows.set(key, row);
  if (rows.size > MAX_HELD_ROWS) rows.delete(rows.keys().next().value as string);
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
