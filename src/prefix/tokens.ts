import type { TokenizerFamily } from "../economics/models.ts";

/**
 * Token estimates without a tokenizer: a linear model over character classes, fitted to o200k_base and
 * cl100k_base with gpt-tokenizer (bench/engine/fit-tokens.ts; the error is measured in
 * test/prefix/tokens.test.ts). Long strings are sampled, so an estimate costs the same for 100 KB as for 2 KB.
 *
 * Anthropic publishes no tokenizer. `claude` starts from the cl100k model and `claude-2026` (Opus 4.7 and
 * later, whose tokenizer yields about 30% more tokens for the same text) from 1.3 times that; both are priors
 * that `calibrate` corrects from the token counts the API reports.
 */

/** Features: word starts, letters, digits, spaces, line breaks and tabs, ASCII punctuation, CJK, other non-ASCII. */
type Weights = readonly [number, number, number, number, number, number, number, number];

export const WEIGHTS: Readonly<Record<"o200k" | "cl100k", Weights>> = {
  o200k: [0.556, 0.114, 1.228, 0.063, 0.583, 0.46, 0.779, 0.755],
  cl100k: [0.563, 0.114, 1.255, 0.061, 0.586, 0.449, 1.143, 0.784],
};

export const SCALE: Readonly<Record<TokenizerFamily, number>> = {
  o200k: 1,
  cl100k: 1,
  claude: 1.1,
  "claude-2026": 1.43,
};

// Sampling budget per string: an estimate must cost microseconds even on a 100 KB text.
const SAMPLE_WINDOWS = 4;
const WINDOW = 16;
const FULL_SCAN = SAMPLE_WINDOWS * WINDOW;

// ASCII classes: 1 letter, 2 digit, 3 space, 4 line break or tab, 5 punctuation.
const ASCII = new Uint8Array(128).map((_, c) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90)
    ? 1
    : c >= 48 && c <= 57
      ? 2
      : c === 32
        ? 3
        : c === 10 || c === 13 || c === 9
          ? 4
          : 5,
);

/** The feature vector of a string, scaled up from evenly spaced windows when the string is long. */
export function textFeatures(s: string): number[] {
  const scale = countFeatures(s);
  const c = counted;
  return [c.words, c.letters, c.digits, c.spaces, c.breaks, c.punct, c.cjk, c.other].map((x) => x * scale);
}

/**
 * Counts the features of `s` into `counted` (estimates run synchronously, one at a time): the whole string
 * when short, else evenly spaced windows. Returns the scale that makes the windows' counts the string's.
 */
function countFeatures(s: string): number {
  const c = counted;
  c.words = c.letters = c.digits = c.spaces = c.breaks = c.punct = c.cjk = c.other = 0;
  const n = s.length;
  if (n <= FULL_SCAN) {
    countInto(s, 0, n, c);
    return 1;
  }
  const stride = Math.floor(n / SAMPLE_WINDOWS);
  for (let k = 0; k < SAMPLE_WINDOWS; k++) countInto(s, k * stride, k * stride + WINDOW, c);
  return n / (SAMPLE_WINDOWS * WINDOW);
}

/**
 * Estimated tokens of a piece of text for a tokenizer family: `textFeatures` dotted with the family's
 * weights, without making the vector (an analysis estimates every string it feeds, most of a body's
 * thousands of them a few characters long, where a vector's upkeep was most of the cost).
 */
export function estimateTextTokens(s: string, family: TokenizerFamily): number {
  if (s.length <= 4) return s.length === 0 ? 0 : 1;
  const w = WEIGHTS[family === "o200k" ? "o200k" : "cl100k"];
  const scale = countFeatures(s);
  const c = counted;
  let t = 0;
  t += w[0] * (c.words * scale);
  t += w[1] * (c.letters * scale);
  t += w[2] * (c.digits * scale);
  t += w[3] * (c.spaces * scale);
  t += w[4] * (c.breaks * scale);
  t += w[5] * (c.punct * scale);
  t += w[6] * (c.cjk * scale);
  t += w[7] * (c.other * scale);
  return Math.max(1, Math.round(t * SCALE[family]));
}

/** The features `countInto` counts, by name (in the order of `Weights`). */
interface Counts {
  words: number;
  letters: number;
  digits: number;
  spaces: number;
  breaks: number;
  punct: number;
  cjk: number;
  other: number;
}

const counted: Counts = { words: 0, letters: 0, digits: 0, spaces: 0, breaks: 0, punct: 0, cjk: 0, other: 0 };

/** Counts the features of s[from, to) into `c`. */
function countInto(s: string, from: number, to: number, c: Counts): void {
  let inWord = false;
  for (let i = from; i < to; i++) {
    const code = s.charCodeAt(i);
    if (code < 128) {
      const k = ASCII[code] as number;
      if (k === 1) {
        if (!inWord) c.words++;
        c.letters++;
        inWord = true;
        continue;
      }
      if (k === 2) c.digits++;
      else if (k === 3) c.spaces++;
      else if (k === 4) c.breaks++;
      else c.punct++;
    } else if (
      (code >= 0x3040 && code <= 0x9fff) ||
      (code >= 0xac00 && code <= 0xd7af) ||
      (code >= 0xf900 && code <= 0xfaff)
    )
      c.cjk++;
    else if (code < 0xdc00 || code > 0xdfff) c.other++;
    inWord = false;
  }
}

/** A per-tenant, per-model correction: reported tokens over estimated tokens, smoothed. */
export interface Calibration {
  ratio: number;
  /** Prompt tokens the ratio has seen, for weighting new observations. */
  weight: number;
}

const MAX_WEIGHT = 2_000_000;

/**
 * Folds one response into a calibration. `reported` is the prompt size the provider billed (Anthropic:
 * input + cache read + cache creation tokens; OpenAI: prompt/input tokens) and `estimated` Stoker's
 * `Analysis.totalTokens` for the same request. Observations are weighted by size in log space and the
 * history is capped, so the ratio follows a tokenizer change within a few large requests.
 */
export function calibrate(
  previous: Calibration | undefined,
  reported: number,
  estimated: number,
): Calibration {
  if (!(reported > 0) || !(estimated > 0)) return previous ?? { ratio: 1, weight: 0 };
  const observed = Math.min(Math.max(reported / estimated, 0.25), 4);
  if (!previous || previous.weight <= 0) return { ratio: observed, weight: Math.min(estimated, MAX_WEIGHT) };
  const weight = Math.min(previous.weight, MAX_WEIGHT);
  const logRatio =
    (Math.log(previous.ratio) * weight + Math.log(observed) * estimated) / (weight + estimated);
  return { ratio: Math.exp(logRatio), weight: Math.min(weight + estimated, MAX_WEIGHT) };
}

/** Applies a calibration to an estimate. */
export function calibrated(estimate: number, calibration: Calibration | undefined): number {
  return calibration ? Math.round(estimate * calibration.ratio) : estimate;
}
