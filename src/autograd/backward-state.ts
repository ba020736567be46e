let depth = 0;

/** True while a backward pass runs: vjps may read inputs whose user handle was disposed. */
export function inBackward(): boolean { return depth > 0; }

export function duringBackward<T>(fn: () => T): T {
  depth++;
  try {
    return fn();
  } finally {
    depth--;
  }
}
