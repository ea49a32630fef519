// Showing and saving sketches on the demo page: polylines ({points: [[x, y], ...], color})
// fitted into a canvas, and the same polylines as an SVG document. Geometry only; the
// sketches themselves come from the library (src/).

const MARGIN = 8;

function bounds(lines) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const {points} of lines) {
    for (const [x, y] of points) {
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
  }
  if (minX > maxX) return {minX: 0, minY: 0, maxX: 1, maxY: 1};
  return {minX, minY, maxX, maxY};
}

// Draws the polylines scaled to fit (never enlarged past maxScale, so a few points of a
// drawing just begun are not blown up) and centred; keeps them on the canvas for saving.
export function showLines(canvas, lines, {maxScale = Infinity, width = 1.6} = {}) {
  const c = canvas.getContext('2d');
  c.fillStyle = '#fff';
  c.fillRect(0, 0, canvas.width, canvas.height);
  const b = bounds(lines);
  const w = Math.max(b.maxX - b.minX, 1), h = Math.max(b.maxY - b.minY, 1);
  const scale = Math.min((canvas.width - 2 * MARGIN) / w, (canvas.height - 2 * MARGIN) / h,
                         maxScale);
  const ox = (canvas.width - w * scale) / 2 - b.minX * scale;
  const oy = (canvas.height - h * scale) / 2 - b.minY * scale;
  c.lineWidth = width;
  c.lineCap = c.lineJoin = 'round';
  let segments = 0;
  for (const {points, color} of lines) {
    if (!points.length) continue;
    c.strokeStyle = color;
    c.beginPath();
    points.forEach(([x, y], i) => (i ? c.lineTo(ox + x * scale, oy + y * scale) :
                                   c.moveTo(ox + x * scale, oy + y * scale)));
    if (points.length === 1) c.lineTo(ox + points[0][0] * scale + 0.5, oy + points[0][1] * scale);
    c.stroke();
    segments += Math.max(points.length - 1, 1);
  }
  canvas.sketchLines = lines;
  return segments;
}

// An SVG document of the polylines (their own units, a margin around them).
export function linesToSvg(lines, {width = 2} = {}) {
  const b = bounds(lines);
  const m = 4 * width;
  const w = b.maxX - b.minX + 2 * m, h = b.maxY - b.minY + 2 * m;
  const fmt = v => Number(v.toFixed(2));
  const paths = lines.filter(l => l.points.length).map(({points, color}) => {
    const d = points.map(([x, y], i) => `${i ? 'L' : 'M'}${fmt(x - b.minX + m)} ${fmt(y - b.minY + m)}`);
    if (points.length === 1) d.push('l0.01 0');
    return `  <path d="${d.join(' ')}" stroke="${color}"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${fmt(w)}" height="${fmt(h)}" ` +
      `viewBox="0 0 ${fmt(w)} ${fmt(h)}">\n` +
      `  <rect width="100%" height="100%" fill="#fff"/>\n` +
      `  <g fill="none" stroke-width="${width}" stroke-linecap="round" stroke-linejoin="round">\n` +
      paths.map(p => '  ' + p).join('\n') + '\n  </g>\n</svg>\n';
}

// How many pixels of a canvas are not white (ink), for the page's own status and tests.
export function inkPixels(canvas) {
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
  return n;
}
