"""Rendering stroke-3 sketches: SVG (plain XML) and PNG (Pillow), one or a grid.

Each sketch is scaled uniformly to fit its cell (keeping its aspect ratio) and
centred; every stroke is one <path> (SVG) or polyline (PNG), so a stroke can
be coloured on its own. Both formats share the layout.
"""
from __future__ import annotations

import math
from typing import Sequence
from xml.sax.saxutils import escape

import numpy as np

from sketch_rnn_tf.data import strokes as strokes_lib
from sketch_rnn_tf.utils import atomic

# Colours for per-stroke colouring (Tableau 10).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


def _fit(lines: Sequence[np.ndarray], x0: float, y0: float, size: float,
         margin: float) -> list[np.ndarray]:
  """Scales and centres polylines into the square [x0, x0+size] x [y0, y0+size]."""
  points = np.concatenate(lines, axis=0)
  lo, hi = points.min(axis=0), points.max(axis=0)
  extent = max(float((hi - lo).max()), 1e-9)
  scale = (size - 2 * margin) / extent
  centre = (lo + hi) / 2
  target = np.array([x0 + size / 2, y0 + size / 2])
  return [(l - centre) * scale + target for l in lines]


def _cell_lines(s3, x0, y0, size, margin):
  """A sketch's strokes fitted into one cell (empty for an empty sketch)."""
  lines = [l for l in strokes_lib.to_polylines(np.asarray(s3)) if len(l)]
  return _fit(lines, x0, y0, size, margin) if lines else []


def _layout(n, cols, cell, labels):
  cols = cols or math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  label_h = 16.0 if labels is not None else 0.0
  return cols, rows, label_h, cols * cell, rows * (cell + label_h)


def _paths(s3: np.ndarray, x0: float, y0: float, size: float, margin: float,
           stroke_width: float, color: str, color_strokes: bool) -> list[str]:
  out = []
  for i, line in enumerate(_cell_lines(s3, x0, y0, size, margin)):
    if len(line) == 1:  # a dot: a zero-length segment drawn with round caps
      line = np.concatenate([line, line + [0.01, 0]], axis=0)
    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in line)
    c = PALETTE[i % len(PALETTE)] if color_strokes else color
    out.append(f'<path d="{d}" stroke="{c}" stroke-width="{stroke_width}" fill="none" '
               'stroke-linecap="round" stroke-linejoin="round"/>')
  return out


def svg_grid(sketches: Sequence[np.ndarray], labels: Sequence[str] | None = None,
             cols: int | None = None, cell: float = 128.0, margin: float = 10.0,
             stroke_width: float = 2.0, color: str = "#000000",
             color_strokes: bool = False) -> str:
  """An SVG document with the sketches in a grid, optional labels under each."""
  n = len(sketches)
  if n == 0:
    raise ValueError("nothing to render")
  cols, rows, label_h, width, height = _layout(n, cols, cell, labels)
  parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
           f'viewBox="0 0 {width:g} {height:g}">',
           f'<rect width="{width:g}" height="{height:g}" fill="white"/>']
  for i, s3 in enumerate(sketches):
    x0, y0 = (i % cols) * cell, (i // cols) * (cell + label_h)
    parts.extend(_paths(np.asarray(s3), x0, y0, cell, margin, stroke_width, color,
                        color_strokes))
    if labels is not None:
      parts.append(f'<text x="{x0 + cell / 2:g}" y="{y0 + cell + label_h - 4:g}" '
                   f'font-family="sans-serif" font-size="11" text-anchor="middle">'
                   f'{escape(str(labels[i]))}</text>')
  parts.append("</svg>")
  return "\n".join(parts)


def svg_sketch(s3: np.ndarray, size: float = 256.0, **kwargs) -> str:
  """An SVG document with one sketch."""
  return svg_grid([s3], cols=1, cell=size, **kwargs)


def png_grid(sketches: Sequence[np.ndarray], labels: Sequence[str] | None = None,
             cols: int | None = None, cell: float = 128.0, margin: float = 10.0,
             stroke_width: float = 2.0, color: str = "#000000",
             color_strokes: bool = False) -> np.ndarray:
  """The same grid as `svg_grid`, drawn with Pillow: uint8 RGB [H, W, 3]."""
  from PIL import Image, ImageDraw
  n = len(sketches)
  if n == 0:
    raise ValueError("nothing to render")
  cols, _, label_h, width, height = _layout(n, cols, cell, labels)
  image = Image.new("RGB", (int(width), int(height)), "white")
  draw = ImageDraw.Draw(image)
  for i, s3 in enumerate(sketches):
    x0, y0 = (i % cols) * cell, (i // cols) * (cell + label_h)
    for k, line in enumerate(_cell_lines(s3, x0, y0, cell, margin)):
      c = PALETTE[k % len(PALETTE)] if color_strokes else color
      points = [tuple(p) for p in line]
      if len(points) == 1:
        r = stroke_width / 2
        draw.ellipse([points[0][0] - r, points[0][1] - r, points[0][0] + r, points[0][1] + r],
                     fill=c)
      else:
        draw.line(points, fill=c, width=max(1, int(round(stroke_width))), joint="curve")
    if labels is not None:
      draw.text((x0 + cell / 2, y0 + cell + label_h / 2), str(labels[i]), fill="black",
                anchor="mm")
  return np.asarray(image)


def write_png(path: str, pixels: np.ndarray) -> None:
  """Writes an RGB array as PNG, atomically."""
  from PIL import Image
  atomic.write_atomically(path, lambda f: Image.fromarray(pixels).save(f, format="PNG"))


def write_text(path: str, text: str) -> None:
  """Writes a text file atomically (a crash leaves the old file or the new one)."""
  atomic.write_atomically(path, lambda f: f.write(text.encode("utf-8")))
