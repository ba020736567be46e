// The diagnosis report: JSON (numbers only), a PNG of the counterfactual pairs, and one HTML page
// with the sensitivity bars and the pairs inline. Browser-safe: returns bytes and text.
import { encodePng, tileImages } from '../io/png.js';
import { describeChange, type WorldDiagnosis } from '../diagnosis/world-diagnosis.js';

export interface ReportFiles { 'report.json': string; 'pairs.png': Uint8Array; 'report.html': string }

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Pairs as rows: real face, reconstruction, counterfactual. */
export function pairsPng(d: WorldDiagnosis, size: number, scale = 4): Uint8Array {
  const frames = d.counterfactuals.flatMap((c) => [c.original, c.before, c.after]);
  if (!frames.length) return encodePng(new Uint8Array(3), 1, 1);
  const t = tileImages(frames, size, { cols: 3, scale });
  return encodePng(t.rgb, t.width, t.height);
}

export function worldReport(d: WorldDiagnosis, meta: { target: string; size: number; models: string; elapsedMs: number }): ReportFiles {
  const json = {
    target: meta.target, label: d.label, spurious: d.spurious, models: meta.models, elapsedMs: Math.round(meta.elapsedMs),
    heldOut: d.heldOut, sensitivity: d.sensitivity, flipped: d.flipped, changedCounts: d.changedCounts,
    counterfactuals: d.counterfactuals.map((c) => ({
      attributes: c.attributes, pBefore: c.pBefore, pAfter: c.pAfter, flipped: c.flipped, changed: c.changed,
      change: describeChange(c), pixelChange: c.pixelChange, readBefore: c.readBefore, readAfter: c.readAfter,
    })),
  };
  const png = pairsPng(d, meta.size);
  const max = Math.max(1e-9, ...d.sensitivity.map((s) => s.meanAbsDelta));
  const bars = d.sensitivity.map(
    (s) => `<tr><td>${esc(s.attribute)}</td><td><div class="bar" style="width:${(300 * s.meanAbsDelta / max).toFixed(0)}px"></div></td>` +
      `<td>${s.meanAbsDelta.toFixed(3)}</td><td>${pct(s.flipRate)}</td></tr>`,
  ).join('\n');
  const pairs = d.counterfactuals.map(
    (c, i) => `<li>#${i + 1}: p(${esc(d.label)}) ${c.pBefore.toFixed(2)} → ${c.pAfter.toFixed(2)} ` +
      `${c.flipped ? '<b>flipped</b>' : '(not flipped)'}; the attribute reader reads: ${esc(describeChange(c))}</li>`,
  ).join('\n');
  const conflicting = Number.isFinite(d.heldOut.conflictingAccuracy) ? `; on bias-conflicting faces ${pct(d.heldOut.conflictingAccuracy)}` : '';
  const html = `<!doctype html><meta charset="utf-8"><title>cflens diagnosis: ${esc(meta.target)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}td{padding:2px 8px}.bar{height:12px;background:#c33}img{image-rendering:pixelated}</style>
<h1>cflens diagnosis of <code>${esc(meta.target)}</code></h1>
<p>Label: <b>${esc(d.label)}</b>${d.spurious ? `; planted spurious feature in training: <b>${esc(d.spurious)}</b>` : ''}. Models: ${esc(meta.models)}.</p>
<p>Held-out accuracy ${pct(d.heldOut.accuracy)} on ${d.heldOut.n} faces${conflicting}.</p>
<h2>Sensitivity to each attribute (exact counterfactuals: one attribute changed, all else fixed)</h2>
<table><tr><th>attribute</th><th></th><th>mean |Δp|</th><th>flip rate</th></tr>
${bars}
</table>
<h2>Generative counterfactuals (DDPM latent optimised to flip the decision)</h2>
<p>Each row: real face, its DDIM reconstruction, the counterfactual. ${d.flipped}/${d.counterfactuals.length} flipped.</p>
<img src="data:image/png;base64,${base64(png)}" alt="counterfactual pairs">
<ol>${pairs}</ol>
<p>Generated in ${(meta.elapsedMs / 1000).toFixed(1)} s.</p>
`;
  return { 'report.json': `${JSON.stringify(json, null, 1)}\n`, 'pairs.png': png, 'report.html': html };
}
