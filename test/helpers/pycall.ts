// The `call` strings of the op fixtures' JSON ("F.conv2d(x, w, None, stride=2)"): a tiny parser of Python
// call syntax for the values the fixtures use (None, booleans, strings, numbers, tuples/lists, tensor names).

export type PyValue = number | string | boolean | null | PyValue[] | { tensor: string };
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(' || ch === '[') depth++;
    if (ch === ')' || ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
export function pyValue(s: string): PyValue {
  if (s === 'None') return null;
  if (s === 'True' || s === 'False') return s === 'True';
  if (/^['"].*['"]$/.test(s)) return s.slice(1, -1);
  if (/^[([].*[)\]]$/.test(s)) return splitTop(s.slice(1, -1)).map(pyValue);
  if (/^-?\d+(\.\d*)?$/.test(s)) return Number(s);
  if (/^[a-z_]\w*$/i.test(s)) return { tensor: s };
  throw new Error(`cannot parse ${JSON.stringify(s)}`);
}
/** "F.conv2d(x, w, None, stride=2) (note)" → fn (without `F.`), positional args, keyword args. */
export function parseCall(call: string): { fn: string; args: PyValue[]; kw: Record<string, PyValue> } {
  const m = /^\s*([\w.]+)\(/.exec(call);
  if (!m) throw new Error(`no call in ${call}`);
  let depth = 1;
  let i = m[0].length;
  for (; depth > 0 && i < call.length; i++) depth += call[i] === '(' ? 1 : call[i] === ')' ? -1 : 0;
  const args: PyValue[] = [];
  const kw: Record<string, PyValue> = {};
  for (const part of splitTop(call.slice(m[0].length, i - 1))) {
    const k = /^(\w+)\s*=\s*(.+)$/.exec(part);
    if (k) kw[k[1]] = pyValue(k[2].trim());
    else args.push(pyValue(part));
  }
  return { fn: m[1].replace(/^F\./, ''), args, kw };
}
