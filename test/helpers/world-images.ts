// World faces rendered into one NCHW tensor in [-1, 1] (the range generators and the diagnosis use).
import { fromArray, type Tensor } from '../../src/index.js';
import { render, type Attributes } from '../../src/world/index.js';

/** Face i is rendered with nuisance seed i. */
export function worldImages(faces: readonly Attributes[], size = 32): Tensor {
  const per = 3 * size * size;
  const data = new Float32Array(faces.length * per);
  faces.forEach((a, i) => data.set(render(a, { size, seed: i, range: 'pm1' }).image, i * per));
  return fromArray(data, [faces.length, 3, size, size]);
}
