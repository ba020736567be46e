/** Raised when no WebGPU adapter can be found; says what was tried and how to get one. */
export class NoAdapterError extends Error {
  constructor(readonly tried: string[]) {
    super(
      `cflens: no WebGPU adapter found (tried: ${tried.join('; ')}). ` +
        'Install a GPU driver with Vulkan support, or the software GPU: `sudo bash scripts/setup-software-gpu.sh` ' +
        '(Mesa lavapipe), then run `npx cflens doctor`. On stock Mesa 22 try CFLENS_BACKEND=opengles.',
    );
    this.name = 'NoAdapterError';
  }
}

/** Raised on the first call after the device was lost; the device cannot be used again. */
export class DeviceLostError extends Error {
  constructor(readonly reason: string, readonly detail: string) {
    super(`cflens: the GPU device was lost (${reason}: ${detail}). Create a new context with initGpu({ fresh: true }); tensors of the lost device are gone.`);
    this.name = 'DeviceLostError';
  }
}

/** A WebGPU validation or out-of-memory error reported asynchronously by the device. */
export class GpuError extends Error {
  constructor(message: string) {
    super(`cflens: the GPU reported an error: ${message}`);
    this.name = 'GpuError';
  }
}

/** A request that exceeds one of the adapter's limits. */
export class GpuLimitError extends Error {
  constructor(what: string, requested: number, limitName: string, limit: number) {
    super(`cflens: ${what} needs ${requested} but the adapter's ${limitName} is ${limit}; split the work or use a smaller size.`);
    this.name = 'GpuLimitError';
  }
}
