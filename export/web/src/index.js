// sketch-rnn-tf: Sketch-RNN in the browser and Node, for published .gen.json decoders and
// sketch_rnn_tf's TF.js exports (with the encoder: encode, reconstruct, interpolate).
//
//   import {SketchRNN} from 'sketch-rnn-tf';
//   const model = await SketchRNN.load('https://.../sheep.gen.json');
//   const [sketch] = await model.generate({temperature: 0.4, seed: 1});

import {SketchRNN} from './sketch_rnn.js';

export {SketchRNN};
export {DEFAULT_PIXEL_FACTOR} from './sketch_rnn.js';
export {simplify, rdpIndices} from './simplify.js';
export {slerp, lerp, seededRandom, START, END} from './sampling.js';
export {toStroke5, linesToStroke5, stroke5ToLines} from './strokes.js';
export {simdAvailable} from './kernel.js';

// SketchRNN.load(source, options): the model, ready (see SketchRNN for the options).
export function load(source, options) {
  return SketchRNN.load(source, options);
}
