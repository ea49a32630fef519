// Runs @magenta/sketch 0.2.0 over a stroke sequence and prints getPDF after every step.
//
//   node magenta_pdf.js REQUEST.json > pdf.json
//
// REQUEST: {"url": "http://127.0.0.1:PORT/x.gen.json",   (initialize() fetches it)
//           "strokes": [[dx, dy, p1, p2, p3], ...],        (pixels; the first is usually
//                                                           zeroInput() = [0, 0, 1, 0, 0])
//           "temperature": 1.0, "softmax_temperature": 1.0}
// Output: {"info": {...}, "steps": [{"pi": [20], "muX", "muY", "sigmaX", "sigmaY", "corr",
//          "pen": [3]}, ...]}, one step per input stroke.
// The pixel factor is 1.0, so the model reads offsets / scale_factor, as sketch-rnn-tf does.
'use strict';

const fs = require('fs');

// The package and tfjs log to stdout (console.log); keep stdout for the result.
console.log = console.error;
const ms = require('@magenta/sketch');

async function main() {
  if (process.argv.length !== 3) {
    throw new Error('usage: node magenta_pdf.js REQUEST.json');
  }
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const model = new ms.SketchRNN(request.url);
  await model.initialize();
  model.setPixelFactor(1.0);
  const temperature = request.temperature === undefined ? 1.0 : request.temperature;
  const softmaxTemperature =
      request.softmax_temperature === undefined ? 1.0 : request.softmax_temperature;
  const n = model.NMIXTURE;
  let state = model.zeroState();
  const steps = [];
  for (const stroke of request.strokes) {
    state = model.update(stroke, state);
    const pdf = model.getPDF(state, temperature, softmaxTemperature);
    steps.push({
      pi: Array.from(pdf.pi),
      muX: Array.from(pdf.muX),
      muY: Array.from(pdf.muY),
      sigmaX: Array.from(pdf.sigmaX),
      // 0.2.0 slices sigmaY as [4N, 15N) (43 values): only the first N are sigma_y.
      sigmaY: Array.from(pdf.sigmaY.slice(0, n)),
      corr: Array.from(pdf.corr),
      pen: Array.from(pdf.pen),
    });
  }
  model.dispose();
  process.stdout.write(JSON.stringify({info: model.info, steps: steps}) + '\n');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
