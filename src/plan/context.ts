import type { ModelInfo, ModelTable } from "../economics/models.ts";
import type { Calibration } from "../prefix/tokens.ts";
import type { CacheSettings } from "./settings.ts";
import type { Outlook, PlanContext, PrefixState } from "./types.ts";

/** Everything a plan depends on besides the request and the prefix states, as plain values. */
export interface PlanInputs {
  nowMs: number;
  /** The tenant's cache settings. */
  settings: CacheSettings;
  /** The deploy's model table (the defaults with MODEL_PRICES merged over them). */
  models: ModelTable;
  /** The request's model row from `models`, when the caller looked it up already. */
  model?: ModelInfo;
  /** Recent requests per minute of the request's family, as the tracker last counted them. */
  familyRatePerMin?: number;
  /** Reported/estimated prompt tokens for the tenant and model, as the tracker learned it. */
  calibration?: Calibration;
  /** When the family's heads and the conversation's tails come back, as the tracker learned it. */
  outlook?: Outlook;
}

/** The plan context: every input live, unknown ones neutral (rate 0, no calibration). */
export function planContext(i: PlanInputs): PlanContext {
  const rate = i.familyRatePerMin;
  const c = i.calibration;
  return {
    nowMs: i.nowMs,
    tenant: {
      allowRetention24h: i.settings.retention24h,
      allow1h: i.settings.allow1h,
      disabled: i.settings.disabled,
    },
    familyRatePerMin: rate !== undefined && Number.isFinite(rate) && rate > 0 ? rate : 0,
    models: i.models,
    ...(i.model ? { model: i.model } : {}),
    calibration: c && Number.isFinite(c.ratio) && c.ratio > 0 && c.weight > 0 ? c : undefined,
    ...(i.outlook && validOutlook(i.outlook) ? { outlook: i.outlook } : {}),
  };
}

const validWindows = (w: readonly number[]): boolean =>
  w.length > 0 && w.every((x) => Number.isFinite(x) && x >= 0 && x <= 1);

function validOutlook(o: Outlook): boolean {
  return (
    validWindows(o.head) &&
    validWindows(o.tail) &&
    Number.isFinite(o.headsRecur) &&
    o.headsRecur >= 0 &&
    o.headsRecur <= 1 &&
    Number.isFinite(o.headGaps) &&
    (o.headLapse === undefined || (Number.isFinite(o.headLapse) && o.headLapse >= 0 && o.headLapse <= 1)) &&
    o.windowMs > 0
  );
}

/** Which request a lookup is for: its family, conversation and model. */
export interface PlanScope {
  family: string;
  conversation: string;
  model: string;
  /** The request continues a conversation (earlier turns may have gone through another isolate). */
  continues?: boolean;
}

/**
 * What the tracker knows that a plan reads: the states of the candidate hashes it knows (unknown ones are
 * absent), the family's recent request rate and the tenant's calibration for the model. Fail-open: an
 * empty `known` and no rate or calibration when the tracker could not answer in time.
 */
export interface PlanLookup {
  known: ReadonlyMap<string, PrefixState>;
  familyRatePerMin?: number;
  calibration?: Calibration;
  outlook?: Outlook;
  /** Not a plan input: the message id the edge asks the provider's cache diagnostics against. */
  previousMessageId?: string;
  /**
   * Not a plan input: the isolate has word of the request's conversation (the tracker's, another isolate's,
   * or its own outcome's), so states of positions past the conversation's key may be known.
   */
  heard?: boolean;
}
