// Ramer-Douglas-Peucker simplification of the user's strokes (absolute polylines), with the
// output of sketch_rnn_tf/data/simplify.py (`simplify_polylines`, backend "numpy", which
// reproduces the `rdp` PyPI package) at the same epsilon:
//
// keep the ends p_a, p_b of a segment; find the interior point farthest from the *line*
// through them,
//   d(p) = sqrt(c^2) / sqrt(ux^2 + uy^2),  c = ux (a_y - p_y) - uy (a_x - p_x),  u = p_b - p_a
//   d(p) = |p - p_a|                       when p_a == p_b
// the first farthest one on ties (a NaN distance counts as 0), and split there if d > epsilon.
// The arithmetic is the same float64 operations in the same order as the Python, so the
// kept points are the same, not just close (tests/export/test_web_library.py checks it).

function checkEpsilon(epsilon) {
  if (typeof epsilon !== 'number' || !(epsilon >= 0)) {
    throw new Error(`epsilon must be a number >= 0, not ${JSON.stringify(epsilon)}`);
  }
}

function distance(points, i, a, b) {
  const [sx, sy] = points[a];
  const [qx, qy] = points[i];
  const ux = points[b][0] - sx, uy = points[b][1] - sy;
  if (ux === 0 && uy === 0) {
    const vx = qx - sx, vy = qy - sy;
    return Math.sqrt(vx * vx + vy * vy);
  }
  const c = ux * (sy - qy) - uy * (sx - qx);
  const d = Math.sqrt(c * c) / Math.sqrt(ux * ux + uy * uy);
  return Number.isNaN(d) ? 0 : d;
}

// The kept indices of one polyline, ascending.
export function rdpIndices(points, epsilon = 2.0) {
  checkEpsilon(epsilon);
  const n = points.length;
  if (n <= 2) return [...Array(n).keys()];
  const keep = new Uint8Array(n);
  keep[0] = keep[n - 1] = 1;
  const stack = [[0, n - 1]];  // explicit: a long stroke must not overflow the call stack
  while (stack.length) {
    const [a, b] = stack.pop();
    let best = -1, at = -1;
    for (let i = a + 1; i < b; i++) {
      const d = distance(points, i, a, b);
      if (d > best) { best = d; at = i; }
    }
    if (at >= 0 && best > epsilon) {
      keep[at] = 1;
      stack.push([a, at], [at, b]);
    }
  }
  const out = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(i);
  return out;
}

function checkLine(line, index) {
  if (!Array.isArray(line)) throw new Error(`stroke ${index} is not a list of [x, y] points`);
  for (const p of line) {
    if (!p || p.length < 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
      throw new Error(`stroke ${index}: points must be finite [x, y] pairs, got ${JSON.stringify(p)}`);
    }
  }
}

// Simplifies each stroke (a list of absolute [x, y] points) on its own; returns new lists.
export function simplify(lines, epsilon = 2.0) {
  checkEpsilon(epsilon);
  if (!Array.isArray(lines)) throw new Error('simplify expects a list of strokes, each a list of [x, y] points');
  return lines.map((line, k) => {
    checkLine(line, k);
    return rdpIndices(line, epsilon).map(i => [line[i][0], line[i][1]]);
  });
}
