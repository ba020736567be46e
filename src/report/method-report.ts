// The report of a UMO or ZOOM diagnosis: JSON (numbers), a PNG of counterfactual pairs, and one HTML page
// with the attribute scores as bars, each method's own table (UMO: S_sim / S_uni per edit; ZOOM: the
// sensitivity histogram and flip rates), and, on the world, the comparison with the exact oracle.
// Browser-safe: returns bytes and text.
import { encodePng, tileImages } from '../io/png.js';
import type { OracleComparison } from '../diagnosis/agreement.js';
import type { UmoDiagnosis } from '../diagnosis/umo-diagnosis.js';
import type { ZoomSensitivity } from '../diagnosis/zoom.js';

export interface MethodReportMeta {
  method: 'umo' | 'zoom';
  target: string;
  generator: string;
  config: Record<string, unknown>;
  elapsedMs: number;
  size: number;
}

export interface MethodReportFiles { 'report.json': string; 'pairs.png': Uint8Array; 'report.html': string }

export interface ZoomReport {
  histogram: ZoomSensitivity[];
  flipRates: { attributes: string[]; flipRate: number; meanSsim: number }[];
  /** Counterfactual pairs of the most sensitive attribute: original, unedited decoding, edit. */
  pairs: { attribute: string; original: Float32Array; reconstruction: Float32Array; edited: Float32Array }[];
  scores: Record<string, number>;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function pairsPng(rows: { original: Float32Array; reconstruction: Float32Array; edited: Float32Array }[], size: number): Uint8Array {
  const frames = rows.flatMap((r) => [r.original, r.reconstruction, r.edited]);
  if (!frames.length) return encodePng(new Uint8Array(3), 1, 1);
  const t = tileImages(frames, size, { cols: 3, scale: 3, range: 'pm1' });
  return encodePng(t.rgb, t.width, t.height);
}

function bars(entries: [string, number][], unit: (v: number) => string): string {
  const max = Math.max(1e-12, ...entries.map((e) => e[1]));
  return entries.map(([k, v]) => `<tr><td>${esc(k)}</td><td><div class="bar" style="width:${(300 * Math.max(0, v) / max).toFixed(0)}px"></div></td>` +
    `<td>${unit(v)}</td></tr>`).join('\n');
}

function oracleSection(c: OracleComparison | null): string {
  if (!c) return '';
  return `<h2>Agreement with the world's exact oracle</h2>
<p>Spearman's ρ with the oracle's sensitivities over the world attributes: <b>${c.spearman.toFixed(2)}</b>` +
    `${c.planted ? `; the planted shortcut <b>${esc(c.planted)}</b> is ranked <b>${c.plantedRank}</b>` : ''}.</p>
<table><tr><th>attribute</th><th></th><th>oracle mean |Δp|</th></tr>
${bars(c.oracle.map((s) => [s.attribute, s.meanAbsDelta] as [string, number]), (v) => v.toFixed(3))}
</table>`;
}

const PAGE_STYLE = 'body{font:14px system-ui,sans-serif;margin:2em;max-width:64em}td{padding:2px 8px}.bar{height:12px;background:#c33}' +
  'img{image-rendering:pixelated}table{border-collapse:collapse}th{text-align:left}';

function page(meta: MethodReportMeta, body: string, png: Uint8Array): string {
  return `<!doctype html><meta charset="utf-8"><title>cflens ${meta.method}: ${esc(meta.target)}</title>
<style>${PAGE_STYLE}</style>
<h1>cflens ${meta.method.toUpperCase()} diagnosis of <code>${esc(meta.target)}</code></h1>
<p>Generator: <code>${esc(meta.generator)}</code>. Settings: <code>${esc(JSON.stringify(meta.config))}</code>.</p>
${body}
<h2>Counterfactual pairs</h2>
<p>Each row: the real face, its unedited reconstruction by the generator, the counterfactual.</p>
<img src="data:image/png;base64,${base64(png)}" alt="counterfactual pairs">
<p>Generated in ${(meta.elapsedMs / 1000).toFixed(1)} s.</p>
`;
}

export function umoReport(d: UmoDiagnosis, meta: MethodReportMeta, oracle: OracleComparison | null): MethodReportFiles {
  const json = { ...meta, flipRate: d.flipRate, ranking: d.ranking, scores: d.scores, oracle, history: d.history, edits: d.edits.map((e) => ({
    images: e.images, flipped: e.flipped, effect: e.effect, top: e.top, greedy: e.greedy,
  })) };
  const png = pairsPng(d.edits.flatMap((e) => e.pairs), meta.size);
  const editTables = d.edits.map((e, j) => `<h3>Edit ${j + 1}: ${e.flipped.length}/${e.images.length} of its images flipped, effect ${e.effect.toFixed(3)}</h3>
<table><tr><th>phrase</th><th>S_sim</th><th>S_uni</th></tr>
${e.top.map((p) => `<tr><td>${esc(p.phrase)}</td><td>${p.sSim.toFixed(3)}</td><td>${p.sUni.toFixed(3)}</td></tr>`).join('\n')}
</table>
<p>Greedy selection: ${e.greedy.map((g) => `${esc(g.phrase)} (${g.score.toFixed(3)})`).join(', ') || 'none'}.</p>`).join('\n');
  const body = `<p>${d.edits.length} edit directions flip ${pct(d.flipRate)} of the faces.</p>
<h2>Attributes the target is sensitive to</h2>
<p>Score: the largest (the edit's effect on the target: its faces' progress towards their goals, over all faces) × S_sim,
over the edits whose change the attribute's phrases describe better than the other edits do (S_uni &gt; 0).</p>
<table><tr><th>attribute</th><th></th><th>score</th></tr>
${bars(d.ranking.slice(0, 15).map((k) => [k, d.scores[k]]), (v) => v.toFixed(3))}
</table>
${oracleSection(oracle)}
<h2>What each edit changes (the bank's phrases, S_sim after S_uni)</h2>
${editTables}`;
  return { 'report.json': `${JSON.stringify(json, null, 1)}\n`, 'pairs.png': png, 'report.html': page(meta, body, png) };
}

export function zoomReport(z: ZoomReport, meta: MethodReportMeta, oracle: OracleComparison | null): MethodReportFiles {
  const json = { ...meta, histogram: z.histogram, flipRates: z.flipRates, scores: z.scores, oracle };
  const png = pairsPng(z.pairs, meta.size);
  const body = `<h2>Sensitivity histogram (single-attribute counterfactuals)</h2>
<table><tr><th>attribute</th><th></th><th>share</th><th>flip rate</th><th>mean |w|</th><th>mean SSIM</th></tr>
${z.histogram.map((h) => `<tr><td>${esc(h.attribute)}</td><td><div class="bar" style="width:${(300 * h.share).toFixed(0)}px"></div></td>` +
    `<td>${pct(h.share)}</td><td>${pct(h.flipRate)}</td><td>${h.meanAbsWeight.toFixed(2)}</td><td>${h.meanSsim.toFixed(3)}</td></tr>`).join('\n')}
</table>
<h2>Flip rate as attributes are added (most sensitive first)</h2>
<table><tr><th>attributes</th><th>flip rate</th><th>mean SSIM</th></tr>
${z.flipRates.map((r) => `<tr><td>${esc(r.attributes.join(' + '))}</td><td>${pct(r.flipRate)}</td><td>${r.meanSsim.toFixed(3)}</td></tr>`).join('\n')}
</table>
${oracleSection(oracle)}`;
  return { 'report.json': `${JSON.stringify(json, null, 1)}\n`, 'pairs.png': png, 'report.html': page(meta, body, png) };
}
