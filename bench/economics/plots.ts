/**
 * Hand-written SVG charts for the economics report (no dependency): a bar chart of cost per policy and the
 * cumulative cost of a few policies over the trace's time.
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
  const left = 60;
  const top = 40;
  const plotW = 640;
  const plotH = 360;
  const legendW = 260;
  const width = left + plotW + legendW;
  const height = top + plotH + 50;
  const maxT = Math.max(1, ...timesS);
  const maxY = Math.max(1, ...series.map((s) => s.values[s.values.length - 1] ?? 0)) * 1.05;
  const x = (t: number): number => left + (t / maxT) * plotW;
  const y = (v: number): number => top + plotH - (v / maxY) * plotH;
  const step = Math.max(1, Math.floor(timesS.length / points));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-family="sans-serif" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const v = (maxY * k) / 5;
    const t = (maxT * k) / 5;
    parts.push(
      `<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${left + plotW}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" ${FONT} text-anchor="end">${v.toFixed(2)}</text>`,
      `<text x="${x(t).toFixed(1)}" y="${top + plotH + 16}" ${FONT} text-anchor="middle">${Math.round(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="black"/>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>`,
    `<text x="${left + plotW / 2}" y="${top + plotH + 36}" ${FONT} text-anchor="middle">time in the trace (s)</text>`,
  );
  series.forEach((s, i) => {
    const pts: string[] = [`${x(0).toFixed(1)},${y(0).toFixed(1)}`];
    for (let j = 0; j < timesS.length; j += step) {
      pts.push(`${x(timesS[j] ?? 0).toFixed(1)},${y(s.values[j] ?? 0).toFixed(1)}`);
    }
    const last = timesS.length - 1;
    pts.push(`${x(timesS[last] ?? 0).toFixed(1)},${y(s.values[last] ?? 0).toFixed(1)}`);
    const color = COLORS[i % COLORS.length];
    const ly = top + 10 + i * 20;
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${pts.join(" ")}"/>`,
      `<line x1="${left + plotW + 16}" y1="${ly}" x2="${left + plotW + 36}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${left + plotW + 42}" y="${ly + 4}" ${FONT}>${esc(`${s.label} (${(s.values[last] ?? 0).toFixed(3)})`)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
