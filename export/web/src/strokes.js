// Drawings: stroke-5 rows [dx, dy, p1, p2, p3] (move by dx, dy; then the pen stays down (p1),
// lifts (p2) or the sketch ends (p3)), stroke-3 rows [dx, dy, lift], and the user's strokes
// as absolute polylines [[x, y], ...].

// Stroke-3 or stroke-5 rows -> stroke-5 rows (copies); errors name what is wrong.
export function toStroke5(rows, what = 'drawing') {
  if (!Array.isArray(rows)) throw new Error(`${what} must be a list of stroke-3 or stroke-5 rows`);
  return rows.map((r, i) => {
    if (!r || (r.length !== 3 && r.length !== 5) || !Array.from(r).every(Number.isFinite)) {
      throw new Error(`${what}: row ${i} is not a finite [dx, dy, lift] or [dx, dy, p1, p2, p3] row: ${JSON.stringify(r)}`);
    }
    if (r.length === 5) return Array.from(r);
    return [r[0], r[1], r[2] ? 0 : 1, r[2] ? 1 : 0, 0];
  });
}

// Absolute polylines (what a drawing pad records) -> stroke-5 rows from the first point: each
// row moves to the next point, with p2 = 1 on the last point of each stroke.
export function linesToStroke5(lines) {
  const rows = [];
  let prev = null;
  for (const line of lines) {
    line.forEach((p, i) => {
      if (prev) {
        const lift = i === line.length - 1 ? 1 : 0;
        rows.push([p[0] - prev[0], p[1] - prev[1], 1 - lift, lift, 0]);
      }
      prev = p;
    });
    if (rows.length) {
      const last = rows[rows.length - 1];
      last[2] = 0;
      last[3] = 1;
    }
  }
  return rows;
}

// Stroke-5 rows -> absolute polylines from `origin`. By default the pen is up before the first
// row (the reference's drawing code: a sample's first row only moves); penDown: true draws it
// from the origin, which gives linesToStroke5's input back.
export function stroke5ToLines(rows, {origin = [0, 0], penDown = false} = {}) {
  const lines = [];
  let [x, y] = origin;
  let current = penDown ? [[x, y]] : [];
  let up = !penDown;
  for (const r of rows) {
    if (r[4] === 1) break;
    x += r[0];
    y += r[1];
    if (up) {
      if (current.length) lines.push(current);
      current = [[x, y]];
    } else {
      current.push([x, y]);
    }
    up = r[3] === 1;
  }
  if (current.length) lines.push(current);
  return lines;
}
