import { duringBackward } from './backward-state.js';
import { enableGrad, noGrad } from './grad-mode.js';
import { addGrads, copyGrad, filledLike } from './accumulate.js';
import { freeNode, type Node } from './node.js';
import { keep, tidy } from './scope.js';
import { shapeStr, type Tensor } from './tensor.js';

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (default: createGraph; else activations are freed). */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients. */
  createGraph?: boolean;
}

/** Tensors reachable from the roots through recorded ops, inputs before outputs (iterative DFS). */
function topoOrder(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: Array<{ t: Tensor; i: number }> = [];
  for (const r of roots) {
    if (seen.has(r)) continue;
    seen.add(r);
    stack.push({ t: r, i: 0 });
    while (stack.length) {
      const top = stack[stack.length - 1];
      const inputs = top.t.node?.inputs ?? [];
      if (top.i < inputs.length) {
        const next = inputs[top.i++];
        if (next.requiresGrad && !seen.has(next)) {
          seen.add(next);
          stack.push({ t: next, i: 0 });
        }
      } else {
        order.push(top.t);
        stack.pop();
      }
    }
  }
  return order;
}

/** For grad(): which tensors lie on a path to a target (only those get gradients). */
function onPathTo(order: readonly Tensor[], targets: ReadonlySet<Tensor>): Set<Tensor> {
  const needed = new Set<Tensor>();
  for (const t of order) {
    if (targets.has(t) || t.node?.inputs.some((i) => needed.has(i))) needed.add(t);
  }
  return needed;
}

/**
 * The backward pass: one visit per node in reverse topological order, gradients summed per tensor.
 * Intermediate gradients are freed as soon as their node has run.
 */
function run(
  roots: readonly Tensor[],
  rootGrads: readonly Tensor[],
  targets: ReadonlySet<Tensor> | null,
  opts: BackwardOptions,
): Map<Tensor, Tensor> {
  const order = topoOrder(roots);
  const needed = targets ? onPathTo(order, targets) : null;
  const isWanted = (t: Tensor) => (targets ? targets.has(t) : t.isLeaf || t.retainsGrad);
  const grads = new Map<Tensor, Tensor>();
  const holders = new Map<Tensor, number>();
  const owned = new Set<Tensor>();
  const hold = (g: Tensor) => holders.set(g, (holders.get(g) ?? 0) + 1);
  const drop = (g: Tensor) => {
    const n = (holders.get(g) ?? 0) - 1;
    if (n > 0) return holders.set(g, n);
    holders.delete(g);
    if (owned.has(g)) {
      owned.delete(g);
      g.dispose();
    }
  };
  const put = (t: Tensor, g: Tensor) => {
    if (g.shape.length !== t.shape.length || g.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(
        `cflens: internal: gradient of shape ${shapeStr(g.shape)} for a tensor of shape ${shapeStr(t.shape)}` +
        `${t.node ? ` (from ${t.node.name})` : ''}`,
      );
    }
    const old = grads.get(t);
    if (!old) {
      grads.set(t, g);
      hold(g);
      return;
    }
    const sum = addGrads(old, g);
    owned.add(sum);
    grads.set(t, sum);
    hold(sum);
    drop(old);
  };

  roots.forEach((r, i) => put(r, rootGrads[i]));
  const visited: Node[] = [];
  const mode = opts.createGraph ? enableGrad : noGrad;
  duringBackward(() =>
    mode(() => {
      for (let k = order.length - 1; k >= 0; k--) {
        const t = order[k];
        const node = t.node;
        const g = grads.get(t);
        if (!node || !g) continue;
        if (node.freed) {
          throw new Error(
            `cflens: backward through the graph of ${node.name} a second time, but its saved tensors were freed; ` +
            'pass { retainGraph: true } to the first backward()',
          );
        }
        visited.push(node);
        const gs = tidy(() => node.vjp(g));
        const fresh = new Set<Tensor>();
        node.inputs.forEach((input, i) => {
          const gi = gs[i];
          if (!gi || !input.requiresGrad || (needed && !needed.has(input))) return;
          if (!holders.has(gi) && !rootGrads.includes(gi)) fresh.add(gi);
          put(input, gi);
        });
        for (const gi of gs) {
          if (gi && !holders.has(gi) && !rootGrads.includes(gi)) gi.dispose();
        }
        for (const f of fresh) if (holders.has(f)) owned.add(f);
        if (!isWanted(t)) {
          grads.delete(t);
          drop(g);
        }
      }
    }),
  );
  // As in PyTorch, createGraph implies retainGraph: the new graph reads the old one's tensors.
  if (!(opts.retainGraph ?? opts.createGraph)) for (const n of visited) freeNode(n);

  const result = new Map<Tensor, Tensor>();
  for (const [t, g] of grads) {
    if (!isWanted(t)) continue;
    if (owned.has(g) && holders.get(g) === 1) {
      owned.delete(g);
      result.set(t, g);
    } else {
      result.set(t, copyGrad(g));
    }
    drop(g);
  }
  return result;
}

function seedGrads(outputs: readonly Tensor[], gradOutputs: ReadonlyArray<Tensor | undefined> | undefined, op: string): Tensor[] {
  return outputs.map((o, i) => {
    const g = gradOutputs?.[i];
    if (g) {
      if (g.shape.join() !== o.shape.join()) {
        throw new Error(`cflens: ${op}: gradient of shape ${shapeStr(g.shape)} for an output of shape ${shapeStr(o.shape)}`);
      }
      return g;
    }
    if (o.size !== 1) {
      throw new Error(
        `cflens: ${op} on a tensor of shape ${shapeStr(o.shape)} needs a gradient of that shape; ` +
        'only one-element outputs get an implicit gradient of 1',
      );
    }
    return filledLike(o, 1);
  });
}

/** Accumulates d(output)/d(leaf) into `.grad` of every leaf that requires grad. */
export function backward(output: Tensor, gradOutput?: Tensor, opts: BackwardOptions = {}): void {
  output.assertAlive('backward');
  if (!output.requiresGrad) {
    throw new Error('cflens: backward() on a tensor that does not require grad (no input had requiresGrad, or it was made under noGrad)');
  }
  const seeds = seedGrads([output], gradOutput ? [gradOutput] : undefined, 'backward()');
  const result = run([output], seeds, null, opts);
  if (!gradOutput) seeds[0].dispose();
  for (const [t, g] of result) {
    keep(g);
    if (t.grad) {
      const sum = addGrads(t.grad, g);
      keep(sum);
      t.grad.dispose();
      g.dispose();
      t.grad = sum;
    } else {
      t.grad = g;
    }
  }
}

/**
 * Functional gradients: d(sum of outputs · gradOutputs)/d(inputs), without touching `.grad`.
 * Inputs that the outputs do not depend on get null.
 */
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: readonly Tensor[],
  gradOutputs?: ReadonlyArray<Tensor | undefined>,
  opts: BackwardOptions = {},
): Array<Tensor | null> {
  const outs = Array.isArray(outputs) ? (outputs as Tensor[]) : [outputs as Tensor];
  for (const o of outs) o.assertAlive('grad');
  for (const x of inputs) {
    if (!x.requiresGrad) throw new Error(`cflens: grad(): input ${x.toString()} does not require grad`);
  }
  const live = outs.filter((o) => o.requiresGrad);
  const liveSeeds = gradOutputs ? outs.map((o, i) => (o.requiresGrad ? gradOutputs[i] : undefined)).filter((_, i) => outs[i].requiresGrad) : undefined;
  const seeds = seedGrads(live, liveSeeds, 'grad()');
  const result = run(live, seeds, new Set(inputs), opts);
  seeds.forEach((s, i) => { if (!liveSeeds?.[i]) s.dispose(); });
  return inputs.map((x) => result.get(x) ?? null);
}
