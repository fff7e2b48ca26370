import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Locator, PathSpans } from "../../src/upstream/body/scan.ts";

type Step = string | number;

/** Paths into `v` (every container's children, some of them deep), plus a few that do not exist. */
function pathsOf(v: unknown, prefix: Step[] = [], out: Step[][] = []): Step[][] {
  out.push(prefix);
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      pathsOf(x, [...prefix, i], out);
    });
    out.push([...prefix, v.length], [...prefix, "0"]);
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) pathsOf(x, [...prefix, k], out);
    out.push([...prefix, "missing"], [...prefix, 0]);
  }
  return out;
}

function agree(raw: string, paths: Step[][]): void {
  const one = new PathSpans(raw, paths, paths);
  const old = new Locator(raw);
  for (const p of paths) {
    const span = old.span(p);
    expect(one.span(p), JSON.stringify(p)).toEqual(span && { start: span.start, end: span.end });
    if (span && raw.charCodeAt(span.start) === 123) expect(one.entries(p)).toEqual(old.entriesOf(span));
  }
  const root = old.span([]);
  if (root && raw.charCodeAt(root.start) === 123) expect(one.entries([])).toEqual(old.entriesOf(root));
}

describe("PathSpans finds what Locator finds, in one pass", () => {
  it("for any JSON object and any set of paths into it, compact or indented", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        (value, indent, seed) => {
          const raw = JSON.stringify(value, null, indent ? 2 : undefined);
          const all = pathsOf(value);
          // A subset of the paths at once, as a body's edits and markers come.
          const chosen = all.filter((_, i) => (i * 7919 + seed) % 3 === 0);
          agree(raw, chosen);
          agree(raw, all);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("takes the last of duplicate keys, as JSON.parse does, and forgets what an earlier one held", () => {
    const raw = '{"a":{"b":[1,{"c":2}],"d":1},"x":"\\"a\\"","a":{"b":"s"}}';
    agree(raw, [["a"], ["a", "b"], ["a", "b", 1], ["a", "b", 1, "c"], ["a", "d"], ["x"]]);
    const spans = new PathSpans(
      raw,
      [
        ["a", "b", 1, "c"],
        ["a", "d"],
      ],
      [],
    );
    expect(spans.span(["a", "b", 1, "c"])).toBeNull();
    expect(spans.span(["a", "d"])).toBeNull();
  });

  it("finds nothing through a step of the wrong kind", () => {
    const raw = '{"list":[{"k":1}],"obj":{"0":true}}';
    agree(raw, [
      ["list", "0"],
      ["list", 0, "k"],
      ["obj", 0],
      ["obj", "0"],
      ["list", 0, "k", "deeper"],
    ]);
  });
});
