import { type NDArray, nd, pair } from './core.ts';

export interface Conv2dOptions {
  stride?: number | [number, number];
  /** number, [h, w], or [top, bottom, left, right]. */
  padding?: number | [number, number] | [number, number, number, number];
  dilation?: number | [number, number];
  groups?: number;
}

export interface ConvTranspose2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  outputPadding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

function expect4d(x: NDArray, name: string, op: string): void {
  if (x.shape.length !== 4) throw new Error(`${op}: ${name} must be 4-D, got [${x.shape.join(', ')}]`);
}

function fourSidedPadding(p: Conv2dOptions['padding']): [number, number, number, number] {
  if (p === undefined) return [0, 0, 0, 0];
  if (typeof p === 'number') return [p, p, p, p];
  if (p.length === 2) return [p[0], p[0], p[1], p[1]];
  if (p.length === 4) return [p[0], p[1], p[2], p[3]];
  throw new Error(`conv2d: padding must be a number, [h, w] or [top, bottom, left, right]`);
}

/** F.conv2d (cross-correlation) on NCHW input with weight [Cout, Cin/groups, kh, kw]. */
export function conv2d(x: NDArray, w: NDArray, b: NDArray | null, opts: Conv2dOptions = {}): NDArray {
  expect4d(x, 'input', 'conv2d');
  expect4d(w, 'weight', 'conv2d');
  const [N, C, H, W] = x.shape;
  const [Cout, Cg, KH, KW] = w.shape;
  const groups = opts.groups ?? 1;
  const [sh, sw] = pair(opts.stride ?? 1, 'stride');
  const [dh, dw] = pair(opts.dilation ?? 1, 'dilation');
  const [pt, pb, pl, pr] = fourSidedPadding(opts.padding);
  if (C % groups !== 0 || Cout % groups !== 0 || Cg !== C / groups) {
    throw new Error(`conv2d: input [${x.shape.join(', ')}], weight [${w.shape.join(', ')}], groups ${groups} disagree`);
  }
  if (b && (b.shape.length !== 1 || b.shape[0] !== Cout)) throw new Error(`conv2d: bias must have shape [${Cout}]`);
  const OH = Math.floor((H + pt + pb - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + pl + pr - dw * (KW - 1) - 1) / sw) + 1;
  if (OH <= 0 || OW <= 0) throw new Error(`conv2d: output size ${OH}x${OW} is not positive`);
  const coutPerGroup = Cout / groups;
  const out = nd([N, Cout, OH, OW]);
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const g = Math.floor(co / coutPerGroup);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = b ? b.data[co] : 0;
          for (let c = 0; c < Cg; c++) {
            const ci = g * Cg + c;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - pt + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pl + kw * dw;
                if (iw < 0 || iw >= W) continue;
                acc += x.data[((n * C + ci) * H + ih) * W + iw] * w.data[((co * Cg + c) * KH + kh) * KW + kw];
              }
            }
          }
          out.data[o++] = acc;
        }
      }
    }
  }
  return out;
}

/** F.conv_transpose2d on NCHW input with weight [Cin, Cout/groups, kh, kw], by scattering each input pixel. */
export function convTranspose2d(x: NDArray, w: NDArray, b: NDArray | null, opts: ConvTranspose2dOptions = {}): NDArray {
  expect4d(x, 'input', 'convTranspose2d');
  expect4d(w, 'weight', 'convTranspose2d');
  const [N, C, H, W] = x.shape;
  const [Cin, Cg, KH, KW] = w.shape;
  const groups = opts.groups ?? 1;
  const [sh, sw] = pair(opts.stride ?? 1, 'stride');
  const [ph, pw] = pair(opts.padding ?? 0, 'padding');
  const [oph, opw] = pair(opts.outputPadding ?? 0, 'outputPadding');
  const [dh, dw] = pair(opts.dilation ?? 1, 'dilation');
  if (Cin !== C || C % groups !== 0) {
    throw new Error(`convTranspose2d: input [${x.shape.join(', ')}], weight [${w.shape.join(', ')}], groups ${groups} disagree`);
  }
  if ((oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) {
    throw new Error('convTranspose2d: output padding must be smaller than either stride or dilation');
  }
  const Cout = Cg * groups;
  if (b && (b.shape.length !== 1 || b.shape[0] !== Cout)) throw new Error(`convTranspose2d: bias must have shape [${Cout}]`);
  const OH = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1;
  const OW = (W - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1;
  if (OH <= 0 || OW <= 0) throw new Error(`convTranspose2d: output size ${OH}x${OW} is not positive`);
  const cinPerGroup = C / groups;
  const out = nd([N, Cout, OH, OW]);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const base = (n * Cout + co) * OH * OW;
      if (b) out.data.fill(b.data[co], base, base + OH * OW);
    }
    for (let ci = 0; ci < C; ci++) {
      const g = Math.floor(ci / cinPerGroup);
      for (let c = 0; c < Cg; c++) {
        const co = g * Cg + c;
        const base = (n * Cout + co) * OH * OW;
        for (let ih = 0; ih < H; ih++) {
          for (let iw = 0; iw < W; iw++) {
            const v = x.data[((n * C + ci) * H + ih) * W + iw];
            for (let kh = 0; kh < KH; kh++) {
              const oh = ih * sh - ph + kh * dh;
              if (oh < 0 || oh >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ow = iw * sw - pw + kw * dw;
                if (ow < 0 || ow >= OW) continue;
                out.data[base + oh * OW + ow] += v * w.data[((ci * Cg + c) * KH + kh) * KW + kw];
              }
            }
          }
        }
      }
    }
  }
  return out;
}
