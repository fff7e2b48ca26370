import {
  classOf,
  emptyFamily,
  type FamilyGaps,
  FIRST_WINDOW_BINS,
  type GapHistory,
  type Standing,
  TURN_CLASSES,
  WINDOW_MS,
  WINDOWS,
  windowOf,
} from "./gaps.ts";

/**
 * Prior for a tenant with no history, per use class (1, 2, 3-5, 6+ requests): the chance of coming back in
 * each 5-minute idle window given none came before. Fitted by `node bench/economics/fit.ts` on the first
 * half of the Mooncake conversation trace (the report shows the second half); windows that half cannot
 * observe continue the last fitted one at 0.6 per window. Written as pseudo-counts of `PRIOR_WEIGHT`
 * conversations per cell, so a tenant's own closed windows outweigh it after a handful of conversations.
 */
/** Hazards per use class and 5-minute window. */
export type Prior = readonly (readonly number[])[];

const PRIOR_H: Prior = [
  [0.245, 0.093, 0.026, 0.014, 0.011, 0, 0, 0, 0, 0, 0, 0],
  [0.351, 0.128, 0.025, 0.005, 0, 0, 0, 0, 0, 0, 0, 0],
  [0.474, 0.177, 0.022, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  [0.675, 0.405, 0.243, 0.146, 0.088, 0.053, 0.032, 0.019, 0.011, 0.007, 0.004, 0.002],
];
/**
 * Pseudo-counts each level of the shrinkage carries (prior, tenant, family, answer table; and the first
 * window's shape). Checked on the training data with `try.ts` (mean cost over the optimum): 2 -> 1.115,
 * 3 -> 1.105, 5 -> 1.105, 10 -> 1.110, 20 -> 1.116. Kept at 5: 3 is as good (within 0.1 %) but sits next to
 * 2, where RAG 0.1/min's first documents lose the hour (1.113 -> 1.214).
 */
export const PRIOR_WEIGHT = 5;

/**
 * Prior for how a head (tools + system) comes back, for the heads table, per use class. Fitted by
 * `node bench/economics/fit.ts --heads` on the heads of the training data only (the Mooncake training half and
 * each synthetic workload's training seed); windows 1 and 2 are pooled over the classes and windows 3-11 over
 * the classes and windows, as few heads are idle that long. The training heads are all shared ones (no
 * workload sends a unique system prompt per request), so a tenant's own misses scale it down (`scaledPrior`).
 */
const HEAD_LATER: readonly number[] = [0.671, 0.455, ...new Array<number>(9).fill(0.303)];
export const HEAD_PRIOR_H: Prior = [
  [0.894, ...HEAD_LATER],
  [0.879, ...HEAD_LATER],
  [0.922, ...HEAD_LATER],
  [0.998, ...HEAD_LATER],
];
/**
 * The prior for heads used once, scaled by what the tenant's own such heads have shown (proportional
 * hazards): their returns over the returns the prior expected of the same at-risk counts, with
 * `PRIOR_WEIGHT` expected returns of the prior itself, so an empty table keeps the prior. A tenant whose new
 * heads do not come back in the windows that have closed (a unique system prompt per request) lowers the
 * windows that have not closed yet too, instead of waiting an hour for them. Heads used more than once have
 * shown they are shared; their rows stay as fitted.
 */
export function scaledPrior(table: FamilyGaps, priors: Prior): Prior {
  const first = priors[0] as readonly number[];
  let seen = 0;
  let expected = 0;
  for (let c = 0; c < TURN_CLASSES.length; c++)
    for (let j = 0; j < WINDOWS; j++) {
      seen += table.returns[c * WINDOWS + j] ?? 0;
      expected += (table.atRisk[c * WINDOWS + j] ?? 0) * (first[j] ?? 0);
    }
  const level = (seen + PRIOR_WEIGHT) / (expected + PRIOR_WEIGHT);
  return priors.map((row, u) => (u === 0 ? row.map((h) => clamp01(h * level)) : row));
}

/**
 * Pseudo-gaps drawn from the family's shape that a prefix's own gaps are blended with: a conversation's own
 * rhythm speaks once it has shown it over many gaps. Fitted on the training data with `try.ts` (mean cost
 * over the optimum on the synthetic training seeds and the Mooncake training half: 2 -> 1.117, 8 -> 1.110,
 * 32 -> 1.109, 128 -> 1.105, own gaps ignored -> 1.107). At 2, a handful of a conversation's own gaps (an
 * agent's tool results seconds apart, a chat's few replies) outweighed its family's evidence of the pauses
 * after them, and keepalive let them lapse. The Mooncake half alone preferred 8 (0.930 vs 0.932).
 */
export const OWN_WEIGHT = 128;
/**
 * The same for a head's own gaps (how often one family's head is sent again). Not fitted: the training data
 * gives the same figures at every weight above (its heads' gaps are their family's), so it stays where it
 * was set, 2: a head seen coming back twice within a minute is expected soon.
 */
export const HEAD_OWN_WEIGHT = 2;

/** The heads' prior chance of coming back within the first window, for a head used once. */
export function headPriorHazard(): number {
  return (HEAD_PRIOR_H[0] as readonly number[])[0] ?? 0;
}

/** The prior's return probability per window for a use class. */
export function priorQ(useClass: number): number[] {
  return distributionOf(PRIOR_H[Math.min(Math.max(useClass, 0), PRIOR_H.length - 1)] as readonly number[]);
}

/**
 * When a family's head is expected back: the heads table (its use class, the prior scaled by the tenant's
 * own new heads) with the head's own gaps.
 */
export function headDistribution(heads: FamilyGaps, turns: number, own: ArrayLike<number>): number[] {
  return returnDistribution(
    { turns, own, family: heads, tenant: null },
    scaledPrior(heads, HEAD_PRIOR_H),
    HEAD_OWN_WEIGHT,
    false,
  );
}

/**
 * Chance, before any evidence, that a tenant's heads recur at all (a shared system prompt) rather than never
 * (a unique one per request). Not fitted: every head of the training data is shared, so the data would say 1.
 * Chosen so that a new tenant's first heads are written for the hour (above about 0.4, 1h beats 5m at the
 * heads' prior) and two heads whose first windows close without a return stop it (0.9 -> 0.49 -> 0.09): a
 * tenant with unique prompts pays the 1h premium on what it sends in its first 5-10 minutes, and one whose
 * documents are asked about a few times an hour gets them written once for the hour instead of 5m writes that
 * lapse and are written again (RAG 0.1/min on its training seed and development seeds 202-502; 0.75, which
 * stops at the first miss, lost 2.5 % on seed 402).
 */
export const HEADS_RECUR_PRIOR = 0.9;

/**
 * Chance that the tenant's heads recur: 1 once one has come back; else the prior, weighed against each head
 * whose first window closed without a return (under recurrence that happens with chance 1 - the prior's first
 * window). Windows still open say nothing.
 */
export function headsRecur(heads: FamilyGaps): number {
  if (heads.returns.some((n) => n > 0)) return 1;
  let closed = 0;
  for (let c = 0; c < TURN_CLASSES.length; c++) closed += heads.atRisk[c * WINDOWS] ?? 0;
  const miss = 1 - headPriorHazard();
  const recur = HEADS_RECUR_PRIOR * miss ** closed;
  return recur / (recur + 1 - HEADS_RECUR_PRIOR);
}

/**
 * A head's distribution weighed by the chance that the tenant's heads recur at all: the first window as the
 * heads table says (its level already counts the misses), the windows beyond it only if heads recur. A write
 * that lasts beyond the first window (1h) needs that evidence: a tenant sending a unique system prompt per
 * request soon shows it has none.
 */
export function weighedByRecurrence(q: readonly number[], recur: number): number[] {
  return q.map((x, j) => (j === 0 ? x : x * recur));
}

/**
 * `q` (a distribution `returnDistribution` blended with `ownGaps` of the prefix's own gaps) with one more own
 * gap of `idleMs`: the idle time a request ends by coming back, known when it is planned, before the tracker
 * records it. The chance of coming back at all is taken as `q`'s total (exact unless own gaps lie beyond the
 * horizon); a gap beyond it only takes its share of the mass out of every window.
 */
export function withOwnGap(
  q: readonly number[],
  ownGaps: number,
  idleMs: number,
  windowMs: number = WINDOW_MS,
): number[] {
  const pReturn = q.reduce((a, b) => a + b, 0);
  const j = windowOf(idleMs, windowMs);
  const w = Math.max(ownGaps, 0) + HEAD_OWN_WEIGHT;
  return q.map((x, i) => (x * w + (i === j ? pReturn : 0)) / (w + 1));
}

/** A new head's return distribution before its tenant's heads table holds anything. */
export function headPriorQ(): number[] {
  const empty = emptyFamily();
  return weighedByRecurrence(headDistribution(empty, 1, []), headsRecur(empty));
}

/** Discrete-time hazards (chance of coming back in window j given not yet) from a return distribution. */
export function hazardsOf(q: readonly number[]): number[] {
  let survive = 1;
  return q.map((qj) => {
    const h = survive > 1e-12 ? Math.min(qj / survive, 1) : 0;
    survive -= qj;
    return h;
  });
}

/** A return distribution from hazards. */
function distributionOf(h: readonly number[]): number[] {
  let survive = 1;
  return h.map((hj) => {
    const q = survive * hj;
    survive -= q;
    return q;
  });
}

/**
 * A table's hazards for one class, shrunk towards the same table's hazards for the same use class over all
 * turn classes (`pooled`), which are in turn shrunk towards `base`: a class with little data borrows from its
 * neighbours, a table with little data from the level above it. The heads table has no neighbours to borrow
 * from (a head's uses are its turns: one turn class per use class), so it is read unpooled: pooling would
 * shrink the same counts twice and count a head's evidence double.
 */
function shrunkHazards(table: FamilyGaps, s: Standing, base: readonly number[], pooled: boolean): number[] {
  const cls = classOf(s);
  const u = Math.floor(cls / TURN_CLASSES.length);
  const at = cls * WINDOWS;
  const out: number[] = [];
  for (let j = 0; j < WINDOWS; j++) {
    let towards = base[j] ?? 0;
    if (pooled) {
      let atRisk = 0;
      let returns = 0;
      for (let t = 0; t < TURN_CLASSES.length; t++) {
        const i = (u * TURN_CLASSES.length + t) * WINDOWS + j;
        atRisk += table.atRisk[i] ?? 0;
        returns += table.returns[i] ?? 0;
      }
      towards = (returns + PRIOR_WEIGHT * towards) / (atRisk + PRIOR_WEIGHT);
    }
    const own = (table.returns[at + j] ?? 0) + PRIOR_WEIGHT * towards;
    out.push(clamp01(own / ((table.atRisk[at + j] ?? 0) + PRIOR_WEIGHT)));
  }
  return out;
}

/**
 * The hazards for one class: the prior (fitted, shipped in code), shrunk towards the tenant's table (all its
 * families pooled), shrunk towards the family's, and where the conversation's latest answer is known, towards
 * the family's table of answers that ended alike (a tool call, a reply), which starts from the family's (a
 * deploy that adds the answer tables starts where it was). A new family starts from what its tenant has
 * shown; a family with a few dozen closed windows of its own speaks for itself. Nothing outside the tenant
 * enters.
 */
export function familyHazards(
  family: FamilyGaps | null,
  s: Standing,
  tenant: FamilyGaps | null = null,
  priors: Prior = PRIOR_H,
  answer: FamilyGaps | null = null,
  /** Shrink each class towards its use class first (`shrunkHazards`); false for the heads table. */
  pooled = true,
): number[] {
  const u = Math.floor(classOf(s) / TURN_CLASSES.length);
  const prior = priors[Math.min(u, priors.length - 1)] as readonly number[];
  const tenantH = tenant ? shrunkHazards(tenant, s, prior, pooled) : [...prior];
  const familyH = family ? shrunkHazards(family, s, tenantH, pooled) : tenantH;
  return answer ? shrunkHazards(answer, s, familyH, pooled) : familyH;
}

/**
 * Where inside the first window a return comes, as shares per part (`FIRST_WINDOW_BINS`): the tenant's table
 * shrunk towards even parts (what the windows assumed before they were split: a table with no returns keeps
 * it), the family's towards that, the answer's towards the family's, `PRIOR_WEIGHT` returns each. An agent
 * whose tool results come seconds after the answer shows within a few returns that one still waiting near
 * the end of the window is a pause, not a return about to come.
 */
export function firstWindowShape(h: GapHistory): number[] {
  let shape: number[] = new Array<number>(FIRST_WINDOW_BINS).fill(1 / FIRST_WINDOW_BINS);
  for (const table of [h.tenant, h.family, h.answer]) {
    if (!table) continue;
    const counts = table.firstWindow;
    const n = counts.reduce((a, b) => a + b, 0);
    shape = shape.map((b, k) => ((counts[k] ?? 0) + PRIOR_WEIGHT * b) / (n + PRIOR_WEIGHT));
  }
  return shape;
}

/**
 * The chance that this prefix's next use falls in each idle window (index j: window j; what the entries
 * leave to 1 is "not within the horizon"). Whether it comes back is the family's figure for its class;
 * when, within the horizon, blends the family's timing with the prefix's own gaps.
 */
export function returnDistribution(
  h: GapHistory,
  priors: Prior = PRIOR_H,
  ownWeight: number = OWN_WEIGHT,
  pooled = true,
): number[] {
  const fam = distributionOf(familyHazards(h.family, h, h.tenant ?? null, priors, h.answer ?? null, pooled));
  const pReturn = fam.reduce((a, b) => a + b, 0);
  if (pReturn <= 0) return fam;
  let ownCount = 0;
  for (let j = 0; j <= WINDOWS; j++) ownCount += h.own[j] ?? 0;
  if (ownCount === 0) return fam;
  // Own gaps beyond the horizon (index WINDOWS) keep their share of the mass out of every window.
  return fam.map(
    (q, j) => (pReturn * ((h.own[j] ?? 0) + (ownWeight * q) / pReturn)) / (ownCount + ownWeight),
  );
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
