// Agreement of a method's attribute scores with the world's truth (the exact oracle's sensitivities, the
// planted shortcut): Spearman's rank correlation and the rank of the planted attribute.

/** Ranks 1..n, ties given their average rank. */
export function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) out[order[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman's ρ: the Pearson correlation of the ranks (NaN when either side is constant). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length < 2) throw new Error(`cflens: spearman: need two equal lists of at least 2 scores, got ${a.length} and ${b.length}`);
  const [ra, rb] = [ranks(a), ranks(b)];
  const m = (ra.length + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  ra.forEach((x, i) => {
    sab += (x - m) * (rb[i] - m);
    saa += (x - m) ** 2;
    sbb += (rb[i] - m) ** 2;
  });
  return saa && sbb ? sab / Math.sqrt(saa * sbb) : NaN;
}

/** 1-based rank of `name` when `scores` are sorted from the highest (ties: the best rank among them). */
export function rankOf(scores: Readonly<Record<string, number>>, name: string): number {
  if (!(name in scores)) throw new Error(`cflens: rankOf: ${name} has no score (scored: ${Object.keys(scores).join(', ')})`);
  return 1 + Object.values(scores).filter((v) => v > scores[name]).length;
}

export interface OracleComparison {
  /** The exact oracle's sensitivities (mean |Δp| per attribute), most sensitive first. */
  oracle: ReadonlyArray<{ attribute: string; meanAbsDelta: number; flipRate: number }>;
  /** Spearman's ρ between the method's scores and the oracle's over the attributes both score. */
  spearman: number;
  /** The planted shortcut's attribute and its rank among the method's scores: 1 + the attributes scored higher or tied (1 = alone first). */
  planted: string | null;
  plantedRank: number | null;
}

/** A method's attribute scores against the exact oracle; `spurious` as a config names it ('hair_color=blond'). */
export function compareWithOracle(
  scores: Readonly<Record<string, number>>, oracle: OracleComparison['oracle'], spurious: string | null,
): OracleComparison {
  const shared = oracle.filter((s) => s.attribute in scores);
  const rho = shared.length >= 2 ? spearman(shared.map((s) => scores[s.attribute]), shared.map((s) => s.meanAbsDelta)) : NaN;
  const planted = spurious ? spurious.split('=')[0] : null;
  const rank = planted && planted in scores ? Object.entries(scores).filter(([k, v]) => k !== planted && v >= scores[planted]).length + 1 : null;
  return { oracle, spearman: rho, planted, plantedRank: rank };
}
