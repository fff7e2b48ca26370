/**
 * Hand-written SVG charts for the economics report (no dependency): a bar chart of cost per policy, the
 * cumulative cost and the token hit rate of a few policies over the trace's time, and the histogram of
 * reuse gaps with the policies' stop points.
 */

const FONT = 'font-family="sans-serif" font-size="12"';
const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#9c755f"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Horizontal bars: one per policy, cost as a fraction of no caching, with a dashed line at 1 (no caching). */
export function costBars(title: string, bars: readonly { label: string; value: number }[]): string {
  const labelW = 520;
  const plotW = 360;
  const barH = 22;
  const top = 40;
  const width = labelW + plotW + 70;
  const height = top + bars.length * barH + 40;
  const max = Math.max(1, ...bars.map((b) => b.value)) * 1.05;
  const x = (v: number): number => labelW + (v / max) * plotW;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-family="sans-serif" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  // The axis and the no-caching line first, so that bars and labels are drawn over them.
  const axisY = top + bars.length * barH;
  parts.push(
    `<line x1="${labelW}" y1="${top}" x2="${labelW}" y2="${axisY}" stroke="black"/>`,
    `<line x1="${x(1).toFixed(1)}" y1="${top}" x2="${x(1).toFixed(1)}" y2="${axisY}" stroke="#888" stroke-dasharray="4 3"/>`,
    `<text x="${x(1).toFixed(1)}" y="${axisY + 16}" ${FONT} text-anchor="middle">1.0 = no caching</text>`,
  );
  bars.forEach((b, i) => {
    const y = top + i * barH;
    parts.push(
      `<text x="${labelW - 8}" y="${y + barH * 0.7}" ${FONT} text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${(x(b.value) - labelW).toFixed(1)}" height="${barH - 6}" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${(x(b.value) + 4).toFixed(1)}" y="${y + barH * 0.7}" ${FONT} stroke="white" stroke-width="3" paint-order="stroke">${b.value.toFixed(3)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** A round tick step near `raw`: 1, 2 or 5 times a power of ten. */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/** How a line chart draws its axes and legend. */
interface LineChartOptions {
  xLabel: string;
  /** Top of the y axis. */
  yMax: number;
  yTick: (v: number) => string;
  /** Legend text of a series, given its value at the last point. */
  legend: (label: string, last: number) => string;
  /** Start every line at (0, 0) (cumulative series). */
  fromOrigin?: boolean;
  points?: number;
}

/** Lines against x (one value per x per series), thinned to about `points` points. */
function lineChart(
  title: string,
  xs: readonly number[],
  series: readonly { label: string; values: ArrayLike<number> }[],
  o: LineChartOptions,
): string {
  const left = 60;
  const top = 40;
  const plotW = 640;
  const plotH = 360;
  const legendW = 320;
  const width = left + plotW + legendW;
  const height = top + plotH + 50;
  const maxT = Math.max(1, ...xs);
  const maxY = o.yMax;
  const x = (t: number): number => left + (t / maxT) * plotW;
  const y = (v: number): number => top + plotH - (v / maxY) * plotH;
  const step = Math.max(1, Math.floor(xs.length / (o.points ?? 500)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-family="sans-serif" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const v = (maxY * k) / 5;
    parts.push(
      `<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${left + plotW}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" ${FONT} text-anchor="end">${o.yTick(v)}</text>`,
    );
  }
  const xStep = niceStep(maxT / 5);
  for (let t = 0; t <= maxT + 1e-9; t += xStep) {
    parts.push(
      `<text x="${x(t).toFixed(1)}" y="${top + plotH + 16}" ${FONT} text-anchor="middle">${Math.round(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="black"/>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>`,
    `<text x="${left + plotW / 2}" y="${top + plotH + 36}" ${FONT} text-anchor="middle">${esc(o.xLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const pts: string[] = o.fromOrigin ? [`${x(0).toFixed(1)},${y(0).toFixed(1)}`] : [];
    for (let j = 0; j < xs.length; j += step) {
      pts.push(`${x(xs[j] ?? 0).toFixed(1)},${y(s.values[j] ?? 0).toFixed(1)}`);
    }
    const last = xs.length - 1;
    pts.push(`${x(xs[last] ?? 0).toFixed(1)},${y(s.values[last] ?? 0).toFixed(1)}`);
    const color = COLORS[i % COLORS.length];
    const ly = top + 10 + i * 20;
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${pts.join(" ")}"/>`,
      `<line x1="${left + plotW + 16}" y1="${ly}" x2="${left + plotW + 36}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${left + plotW + 42}" y="${ly + 4}" ${FONT}>${esc(o.legend(s.label, s.values[last] ?? 0))}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/**
 * Lines of cumulative cost (fraction of the whole trace's uncached cost) against time in seconds. Each
 * series gives one value per request; `timesS` holds the requests' times. Points are thinned to `points`.
 */
export function cumulativeLines(
  title: string,
  timesS: readonly number[],
  series: readonly { label: string; values: ArrayLike<number> }[],
  points = 500,
): string {
  return lineChart(title, timesS, series, {
    xLabel: "time in the trace (s)",
    yMax: Math.max(1, ...series.map((s) => s.values[s.values.length - 1] ?? 0)) * 1.05,
    yTick: (v) => v.toFixed(2),
    legend: (label, last) => `${label} (${last.toFixed(3)})`,
    fromOrigin: true,
    points,
  });
}

/**
 * Token hit rate per time bucket (a fraction per bucket, drawn at the bucket's middle, in seconds) for a few
 * policies; the legend gives each policy's hit rate over the whole trace.
 */
export function hitRateLines(
  title: string,
  bucketMidS: readonly number[],
  series: readonly { label: string; values: ArrayLike<number>; overall: number }[],
  bucketS: number,
): string {
  const overall = new Map(series.map((s) => [s.label, s.overall]));
  return lineChart(title, bucketMidS, series, {
    xLabel: `time in the trace (s); token hit rate of the requests in each ${bucketS}-s bucket`,
    yMax: 1,
    yTick: (v) => `${Math.round(100 * v)} %`,
    legend: (label) => `${label}: ${(100 * (overall.get(label) ?? 0)).toFixed(1)} % overall`,
  });
}

/** A vertical line on the gap histogram: where a fixed policy stops holding an entry. */
export interface StopMark {
  atMin: number;
  label: string;
}

/**
 * Histogram of the gaps between reuses of a prefix (share of reuses per bin of `binMin` minutes, the last
 * bin holding everything beyond), with vertical lines where fixed policies stop holding an entry, and,
 * in a strip under the axis, where a learned policy let entries lapse (share of the tokens it let go, per
 * idle time).
 */
export function gapHistogram(
  title: string,
  bins: readonly number[],
  binMin: number,
  marks: readonly StopMark[],
  stops: { label: string; atMin: readonly number[]; share: readonly number[] },
): string {
  const left = 60;
  const top = 40;
  const plotW = 760;
  const plotH = 300;
  const strip = 70;
  const width = left + plotW + 40;
  const height = top + plotH + 50 + strip + 30;
  const n = bins.length;
  const maxMin = n * binMin;
  const maxY = Math.max(0.01, ...bins) * 1.1;
  const x = (min: number): number => left + (min / maxMin) * plotW;
  const y = (v: number): number => top + plotH - (v / maxY) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-family="sans-serif" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const v = (maxY * k) / 5;
    parts.push(
      `<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${left + plotW}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" ${FONT} text-anchor="end">${(100 * v).toFixed(1)} %</text>`,
    );
  }
  bins.forEach((v, i) => {
    const x0 = x(i * binMin);
    parts.push(
      `<rect x="${(x0 + 0.5).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(x((i + 1) * binMin) - x0 - 1).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${i === n - 1 ? "#bab0ac" : (COLORS[0] as string)}"/>`,
    );
  });
  for (let m = 0; m <= maxMin; m += 10) {
    const label = m === maxMin ? `>${maxMin - binMin}` : String(m);
    parts.push(
      `<text x="${x(m).toFixed(1)}" y="${top + plotH + 16}" ${FONT} text-anchor="middle">${label}</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="black"/>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>`,
    `<text x="${left + plotW / 2}" y="${top + plotH + 34}" ${FONT} text-anchor="middle">gap between two uses of a prefix block (minutes, ${binMin}-min bins; share of all reuses)</text>`,
  );
  marks.forEach((mk, i) => {
    const mx = x(mk.atMin);
    const color = COLORS[(i + 1) % COLORS.length];
    // Labels right of their line, or left of it near the right edge.
    const right = mx < left + plotW * 0.7;
    parts.push(
      `<line x1="${mx.toFixed(1)}" y1="${top}" x2="${mx.toFixed(1)}" y2="${top + plotH}" stroke="${color}" stroke-width="1.5" stroke-dasharray="5 3"/>`,
      `<text x="${(mx + (right ? 4 : -4)).toFixed(1)}" y="${top + 14 + i * 16}" ${FONT} text-anchor="${right ? "start" : "end"}" fill="${color}" stroke="white" stroke-width="3" paint-order="stroke">${esc(mk.label)}</text>`,
    );
  });
  // The learned policy's stop points: a circle per idle time, its area the share of tokens let go there.
  const sy = top + plotH + 50 + strip / 2;
  parts.push(
    `<line x1="${left}" y1="${sy}" x2="${left + plotW}" y2="${sy}" stroke="#ccc"/>`,
    `<text x="${left}" y="${sy - strip / 2 + 2}" ${FONT}>${esc(stops.label)}</text>`,
  );
  stops.atMin.forEach((m, i) => {
    const share = stops.share[i] ?? 0;
    if (share <= 0) return;
    const r = Math.max(1.5, 16 * Math.sqrt(share));
    const cx = x(Math.min(m, maxMin - binMin / 2)).toFixed(1);
    parts.push(`<circle cx="${cx}" cy="${sy}" r="${r.toFixed(1)}" fill="${COLORS[3]}" fill-opacity="0.7"/>`);
    if (share >= 0.005) {
      parts.push(
        `<text x="${cx}" y="${(sy + r + 13).toFixed(1)}" ${FONT} text-anchor="middle">${(100 * share).toFixed(1)} %</text>`,
      );
    }
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
