import type { Tensor } from './tensor.js';

export type Vjp = (grad: Tensor) => Array<Tensor | null | undefined>;

/** One recorded op: how to map the output's gradient to its inputs' gradients. */
export interface Node {
  readonly id: number;
  readonly name: string;
  readonly inputs: readonly Tensor[];
  /** Extra tensors the vjp needs besides the inputs (never the node's own output). */
  readonly saved: readonly Tensor[];
  readonly vjp: Vjp;
  freed: boolean;
}

let nextNodeId = 0;
export function newNodeId(): number { return nextNodeId++; }
export function peekNodeId(): number { return nextNodeId; }

/** Drops what a node holds; its inputs may then be freed. */
export function freeNode(node: Node): void {
  if (node.freed) return;
  node.freed = true;
  for (const t of node.inputs) t.release();
  for (const t of node.saved) t.release();
}
