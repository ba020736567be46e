import type { Tensor } from './tensor.js';

/** Tensors created while a tidy() scope is open are disposed when it closes, unless returned or kept. */
const stack: Array<Set<Tensor>> = [];
let paused = 0;

export function track(t: Tensor): void {
  if (paused === 0 && stack.length) stack[stack.length - 1].add(t);
}

/** Runs fn without registering new tensors in any scope (they belong to the caller). */
export function untracked<T>(fn: () => T): T {
  paused++;
  try {
    return fn();
  } finally {
    paused--;
  }
}

/** Exempts tensors from the enclosing scopes. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ((value as { isTensor?: boolean }).isTensor === true) {
    out.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, seen);
}

/**
 * Runs fn and disposes every tensor it created that is not part of its result (a tensor, an array,
 * a Map or a plain object holding tensors). Synchronous only: an async fn would let other work's
 * tensors into this scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) throw new Error('cflens: tidy() got an async function; use explicit dispose() around awaits');
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of scope) {
    if (kept.has(t)) track(t);
    else t.dispose();
  }
  return result;
}
