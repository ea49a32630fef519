"""What people do with a trained Sketch-RNN, as functions returning grids.

Each function draws with a `Sampler` and returns a `Grid`: the sketches
(pixel stroke-3), one label each and the number of columns, ready for
`render.svg_grid` / `render.png_grid` (see `write_grid`). Rows are laid out
as the paper's figures: one row per temperature.

  generate     unconditional / prior samples, `num` per temperature
  reconstruct  inputs on the first row, then their reconstructions per tau
  interpolate  a strip from input a to input b per tau (slerp or linear)
  analogy      a, b, c, then decodings of z(a) - z(b) + z(c) per tau
  complete     an unfinished sketch, then `num` endings per tau
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from sketch_rnn_tf import defaults
from sketch_rnn_tf.sampling import latent
from sketch_rnn_tf.utils import render

MODES = defaults.DRAW_MODES


@dataclasses.dataclass
class Grid:
  sketches: list
  labels: list
  cols: int


def _tau(t):
  return f"tau={t:g}"  # ASCII: PNG labels use Pillow's default font


def _need_encoder(sampler, mode):
  if not sampler.model.hp.conditional:
    raise ValueError(f"{mode} needs a conditional (VAE) model; this one is decoder-only")


def _labels_for(sampler, num, class_id):
  """Class ids for a class-conditional model: the given one, or every class in turn."""
  hp = sampler.model.hp
  if not hp.num_classes:
    return None
  if class_id is not None:
    return np.full([num], class_id, np.int32)
  return np.arange(num, dtype=np.int32) % hp.num_classes


def _draw(sampler, temperature, seed, greedy, max_len, **kwargs):
  s5, lengths = sampler.sample(temperature=temperature, seed=seed, greedy=greedy,
                               max_len=max_len, **kwargs)
  return sampler.to_stroke3_pixels(s5, lengths)


def generate(sampler, num, temperatures, seed=0, class_id=None, greedy=False, max_len=None):
  labels = _labels_for(sampler, num, class_id)
  names = sampler.model.class_names
  sketches, text = [], []
  for k, tau in enumerate(temperatures):
    sketches += _draw(sampler, tau, seed + k, greedy, max_len, num=num, labels=labels)
    text += [_tau(tau) + (f" {names[l]}" if labels is not None and names else "")
             for l in (labels if labels is not None else range(num))]
  return Grid(sketches, text, num)


def reconstruct(sampler, inputs, temperatures, num=1, seed=0, class_id=None, greedy=False,
                max_len=None):
  _need_encoder(sampler, "reconstruct")
  names, sketches = zip(*inputs)
  z = sampler.encode(sketches)
  labels = _labels_for(sampler, len(z), class_id)
  out, text = list(sketches), list(names)
  for k, tau in enumerate(temperatures):
    for r in range(num):
      out += _draw(sampler, tau, seed + 1000 * k + r, greedy, max_len, z=z, labels=labels)
      text += [_tau(tau)] * len(z)
  return Grid(out, text, len(z))


def interpolate(sampler, inputs, temperatures, steps=8, method="slerp", seed=0, class_id=None,
                greedy=False, max_len=None):
  _need_encoder(sampler, "interpolate")
  if len(inputs) != 2:
    raise ValueError(f"interpolate takes exactly 2 input sketches, got {len(inputs)}")
  (name_a, a), (name_b, b) = inputs
  za, zb = sampler.encode([a, b])
  zs = latent.interpolate(za, zb, steps, method)
  labels = _labels_for(sampler, steps, class_id)
  out, text = [], []
  for k, tau in enumerate(temperatures):
    # The same noise for every code: along the strip only z changes.
    out += [a] + _draw(sampler, tau, seed + k, greedy, max_len, z=zs, labels=labels,
                       same_noise=True) + [b]
    text += [name_a] + [f"{_tau(tau)} t={t:.2f}" for t in np.linspace(0, 1, steps)] + [name_b]
  return Grid(out, text, steps + 2)


def analogy(sampler, inputs, temperatures, num=4, seed=0, class_id=None, greedy=False,
            max_len=None):
  _need_encoder(sampler, "analogy")
  if len(inputs) != 3:
    raise ValueError(f"analogy takes exactly 3 input sketches (a, b, c), got {len(inputs)}")
  names, sketches = zip(*inputs)
  za, zb, zc = sampler.encode(sketches)
  z = np.repeat(latent.analogy(za, zb, zc)[None], num, axis=0)
  labels = _labels_for(sampler, num, class_id)
  out, text = [], []
  for k, tau in enumerate(temperatures):
    out += list(sketches) + _draw(sampler, tau, seed + k, greedy, max_len, z=z, labels=labels)
    text += [f"a: {names[0]}", f"- b: {names[1]}", f"+ c: {names[2]}"] + [f"= {_tau(tau)}"] * num
  return Grid(out, text, 3 + num)


def complete(sampler, inputs, temperatures, num=4, seed=0, class_id=None, max_len=None):
  out, text = [], []
  for name, sketch in inputs:
    for k, tau in enumerate(temperatures):
      out += [sketch] + sampler.complete(sketch, num, tau, seed + k, label=class_id,
                                         max_len=max_len)
      text += [name] + [_tau(tau)] * num
  return Grid(out, text, 1 + num)


def write_grid(path, grid, cell=128.0, color_strokes=False, labels=True):
  """Renders a Grid to .svg or .png (by the extension)."""
  ext = os.path.splitext(path)[1].lower()
  if ext not in (".svg", ".png"):
    raise ValueError(f"{path}: the output must end in .svg or .png")
  kwargs = dict(labels=grid.labels if labels else None, cols=grid.cols, cell=cell,
                color_strokes=color_strokes)
  if ext == ".svg":
    render.write_text(path, render.svg_grid(grid.sketches, **kwargs))
  else:
    render.write_png(path, render.png_grid(grid.sketches, **kwargs))
