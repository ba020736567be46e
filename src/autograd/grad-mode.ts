let enabled = true;

export function isGradEnabled(): boolean { return enabled; }

function withMode<T>(mode: boolean, fn: () => T): T {
  const prev = enabled;
  enabled = mode;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Runs fn without recording the tape: no graph, no saved activations. */
export function noGrad<T>(fn: () => T): T { return withMode(false, fn); }

/** Runs fn with recording on, also inside noGrad. */
export function enableGrad<T>(fn: () => T): T { return withMode(true, fn); }
