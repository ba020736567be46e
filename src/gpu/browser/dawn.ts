// The browser side of the '#dawn' seam (package.json "imports"): there is no Dawn addon in a browser,
// where navigator.gpu is used instead (src/gpu/adapter.ts).
export function createNodeGpu(_backend: string | undefined): GPU {
  throw new Error('cflens: Dawn (the webgpu package) runs only in Node; in a browser, WebGPU comes from navigator.gpu');
}
