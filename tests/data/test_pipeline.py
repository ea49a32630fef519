"""The tf.data pipeline: contents, epochs, bucketing, determinism, resuming, sharding."""
import numpy as np
import pytest

from sketch_rnn_tf.data import datasets, pipeline, strokes
from sketch_rnn_tf.data.datasets import SketchSet


def toy_set(n=57, seed=0):
  rng = np.random.default_rng(seed)
  sketches = []
  for _ in range(n):
    length = int(rng.integers(3, 60))
    s = np.concatenate([rng.integers(-30, 30, (length, 2)), rng.random((length, 1)) < 0.2], 1)
    s[-1, 2] = 1
    sketches.append(s.astype(np.int16))
  return SketchSet(sketches, rng.integers(0, 3, n))


def collect(ds):
  return [{k: v.numpy() for k, v in b.items()} for b in ds]


def test_batch_contents_match_a_hand_built_reference():
  data = toy_set()
  batches = collect(pipeline.make_dataset(data, 2.5, 8, shuffle=False, epochs=1, bucket=False,
                                          with_index=True))
  assert [len(b["lengths"]) for b in batches] == [8] * 7 + [1]
  for b in batches:
    longest = b["lengths"].max()
    assert b["strokes"].shape[1:] == (longest + 2, 5)
    for row, i in enumerate(b["index"]):
      s = data.sketches[i]
      assert b["lengths"][row] == len(s) and b["labels"][row] == data.labels[i]
      x = b["strokes"][row]
      np.testing.assert_array_equal(x[0], [0, 0, 1, 0, 0])
      np.testing.assert_allclose(x[1:len(s) + 1, 0:2], s[:, 0:2] / 2.5, rtol=1e-6)
      np.testing.assert_array_equal(x[1:len(s) + 1, 3], s[:, 2])
      np.testing.assert_array_equal(x[1:len(s) + 1, 2], 1 - s[:, 2])
      assert (x[len(s) + 1:] == [0, 0, 0, 0, 1]).all()  # at least one end row


def test_one_epoch_yields_every_training_sketch_once(sheep_path):
  data = datasets.load_npz_files([sheep_path])
  train = data["train"]
  ds = pipeline.make_dataset(train, data.scale_factor, 100, epochs=1, seed=7, with_index=True)
  seen = []
  for b in collect(ds):
    for row, i in enumerate(b["index"]):
      length = b["lengths"][row]
      # The content is that sketch's, so no sketch stands in for another.
      back = strokes.to_stroke3(b["strokes"][row, 1:])
      assert len(back) == length == len(train.sketches[i])
      np.testing.assert_allclose(back[:, :2] * data.scale_factor, train.sketches[i][:, :2],
                                 atol=1e-3)
      seen.append(i)
  assert sorted(seen) == list(range(7400))


def test_bucketing_pads_far_less_than_random_batches(sheep_path):
  data = datasets.load_npz_files([sheep_path])
  train = data["train"]

  def padded_steps(bucket):
    ds = pipeline.make_dataset(train, data.scale_factor, 100, epochs=1, bucket=bucket, seed=1)
    return sum(b["strokes"].shape[0] * (b["strokes"].shape[1] - 1) for b in collect(ds))

  real = int(train.lengths.sum())
  bucketed, random = padded_steps(True), padded_steps(False)
  assert random > 0.9 * 251 * len(train)  # random batches pad to nearly N_max
  assert bucketed < 1.15 * (real + len(train))  # within 15% of the real steps + end rows


def test_bucket_boundaries_are_equal_quantiles():
  lengths = np.arange(1, 1001)
  bounds = pipeline.bucket_boundaries(lengths, 4, multiple=8)
  assert bounds.tolist() == [256, 504, 752, 1000]
  assert pipeline.bucket_boundaries(np.array([5, 5, 5]), 3).tolist() == [8]
  assert pipeline.bucket_boundaries(np.array([3, 250]), 1, multiple=8).tolist() == [256]


def test_pad_modes():
  data = toy_set()
  bounds = [20, 40, 60]
  for b in collect(pipeline.make_dataset(data, 1.0, 5, epochs=1, boundaries=bounds, pad="bucket")):
    bound = min(x for x in bounds if x >= b["lengths"].max())
    assert b["strokes"].shape[1] == bound + 2
    assert all(min(x for x in bounds if x >= l) == bound for l in b["lengths"])
  for b in collect(pipeline.make_dataset(data, 1.0, 5, epochs=1, pad=70)):
    assert b["strokes"].shape[1] == 71
  with pytest.raises(ValueError, match="more than pad=10"):
    collect(pipeline.make_dataset(data, 1.0, 5, epochs=1, pad=10))


def test_seeded_runs_repeat_and_seeds_differ():
  data = toy_set()
  kw = dict(epochs=2, random_scale=0.15, drop_prob=0.1, with_index=True)
  a = collect(pipeline.make_dataset(data, 1.0, 8, seed=3, **kw))
  b = collect(pipeline.make_dataset(data, 1.0, 8, seed=3, **kw))
  c = collect(pipeline.make_dataset(data, 1.0, 8, seed=4, **kw))
  assert len(a) == len(b)
  for x, y in zip(a, b):
    for k in x:
      np.testing.assert_array_equal(x[k], y[k])
  assert any(not np.array_equal(x["index"], y["index"]) for x, y in zip(a, c))
  # Epochs differ in order, and augmentation changes the sketches.
  first, second = len(a) // 2, len(a) - len(a) // 2
  assert first == second
  assert not all(np.array_equal(a[i]["index"], a[first + i]["index"]) for i in range(first))


def test_resume_from_a_batch_continues_the_same_stream():
  data = toy_set()
  kw = dict(epochs=3, seed=5, random_scale=0.1, drop_prob=0.2, with_index=True)
  full = collect(pipeline.make_dataset(data, 1.0, 8, **kw))
  tail = collect(pipeline.make_dataset(data, 1.0, 8, start_batch=11, **kw))
  assert len(tail) == len(full) - 11
  for x, y in zip(full[11:], tail):
    np.testing.assert_array_equal(x["strokes"], y["strokes"])


def test_shards_partition_the_batches():
  data = toy_set()
  kw = dict(epochs=1, seed=2, with_index=True)
  full = collect(pipeline.make_dataset(data, 1.0, 4, **kw))
  shards = [collect(pipeline.make_dataset(data, 1.0, 4, num_shards=3, shard_index=i, **kw))
            for i in range(3)]
  for i, shard in enumerate(shards):
    assert [s["index"].tolist() for s in shard] == [f["index"].tolist() for f in full[i::3]]


def test_drop_remainder_gives_fixed_batches():
  data = toy_set()
  ds = pipeline.make_dataset(data, 1.0, 8, epochs=1, drop_remainder=True)
  assert ds.element_spec["strokes"].shape.as_list() == [8, None, 5]
  assert all(b["lengths"].shape == (8,) for b in collect(ds))


def test_augmentation_changes_points_but_keeps_the_end():
  data = toy_set()
  ds = pipeline.make_dataset(data, 1.0, 8, epochs=1, drop_prob=0.5, with_index=True, seed=9)
  shorter = 0
  for b in collect(ds):
    for row, i in enumerate(b["index"]):
      back = strokes.to_stroke3(b["strokes"][row, 1:])
      shorter += len(back) < len(data.sketches[i])
      np.testing.assert_allclose(back[:, :2].sum(0), data.sketches[i][:, :2].sum(0), atol=1e-3)
  assert shorter > 10


def test_empty_split_is_an_error():
  with pytest.raises(ValueError, match="empty split"):
    pipeline.make_dataset(SketchSet([], []), 1.0)


def test_no_full_batch_is_an_error_not_an_endless_search():
  data = toy_set(n=57)   # 57 sketches in 7 length buckets, the largest holding 11
  with pytest.raises(ValueError, match="no full batch of 12 from 57 sketches in any of 7 length"):
    pipeline.make_dataset(data, 1.0, 12, drop_remainder=True, num_buckets=10)
  with pytest.raises(ValueError, match="no full batch of 64 from 57 sketches: lower"):
    pipeline.make_dataset(data, 1.0, 64, drop_remainder=True, bucket=False)
  assert pipeline.make_dataset(data, 1.0, 11, drop_remainder=True, num_buckets=10)
