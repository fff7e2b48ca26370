/** A hand-written SVG scatter plot for the GPU routing report (same style as bench/economics/plots.ts). */

const FONT = 'font-family="sans-serif" font-size="12"';
const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#9c755f", "#edc948"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export interface Point {
  label: string;
  /** Prefix hit rate, 0-1. */
  x: number;
  /** P90 TTFT in seconds. */
  y: number;
  /** Series (backend count) the point belongs to: its marker. */
  series: number;
}

/**
 * Hit rate (x) against P90 TTFT (y): better is right and down. One color per policy, one marker per series.
 * Points above `clipY` seconds sit on the top edge with their value written beside them.
 */
export function hitVsTtft(
  title: string,
  points: readonly Point[],
  seriesNames: readonly string[],
  clipY = 5,
): string {
  const left = 60;
  const top = 40;
  const plotW = 560;
  const plotH = 360;
  const legendW = 320;
  const width = left + plotW + legendW;
  const height = top + plotH + 50;
  const maxX = Math.ceil(Math.max(0.05, ...points.map((p) => p.x)) * 1.1 * 20) / 20;
  const maxY = Math.min(clipY, Math.max(0.5, ...points.map((p) => p.y)) * 1.1);
  const x = (v: number) => left + (v / maxX) * plotW;
  const y = (v: number) => top + plotH - (v / maxY) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-family="sans-serif" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const vy = (maxY * k) / 5;
    const vx = (maxX * k) / 5;
    parts.push(
      `<line x1="${left}" y1="${y(vy).toFixed(1)}" x2="${left + plotW}" y2="${y(vy).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${(y(vy) + 4).toFixed(1)}" ${FONT} text-anchor="end">${vy.toFixed(1)}</text>`,
      `<text x="${x(vx).toFixed(1)}" y="${top + plotH + 16}" ${FONT} text-anchor="middle">${(vx * 100).toFixed(0)} %</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="black"/>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>`,
    `<text x="${left + plotW / 2}" y="${top + plotH + 36}" ${FONT} text-anchor="middle">prefix hit rate (right is better)</text>`,
    `<text x="14" y="${top + plotH / 2}" ${FONT} text-anchor="middle" transform="rotate(-90 14 ${top + plotH / 2})">P90 TTFT, s (down is better)</text>`,
  );
  const labels = [...new Set(points.map((p) => p.label))];
  const marker = (series: number, cx: number, cy: number, color: string) =>
    series === 0
      ? `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="5" fill="${color}"/>`
      : `<rect x="${(cx - 5).toFixed(1)}" y="${(cy - 5).toFixed(1)}" width="10" height="10" fill="${color}"/>`;
  for (const p of points) {
    const color = COLORS[labels.indexOf(p.label) % COLORS.length] as string;
    const clipped = p.y > maxY;
    parts.push(marker(p.series, x(p.x), y(Math.min(p.y, maxY)), color));
    if (clipped)
      parts.push(
        `<text x="${(x(p.x) + 8).toFixed(1)}" y="${(y(maxY) + 12).toFixed(1)}" ${FONT}>↑ ${p.y.toFixed(1)} s</text>`,
      );
  }
  labels.forEach((label, i) => {
    const ly = top + 10 + i * 20;
    const color = COLORS[i % COLORS.length] as string;
    parts.push(
      `<rect x="${left + plotW + 16}" y="${ly - 6}" width="12" height="12" fill="${color}"/>`,
      `<text x="${left + plotW + 34}" y="${ly + 4}" ${FONT}>${esc(label)}</text>`,
    );
  });
  const ly = top + 20 + labels.length * 20;
  seriesNames.forEach((name, s) => {
    parts.push(
      marker(s, left + plotW + 22, ly + s * 20, "#555"),
      `<text x="${left + plotW + 34}" y="${ly + s * 20 + 4}" ${FONT}>${esc(name)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
