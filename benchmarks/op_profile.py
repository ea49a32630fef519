"""Where a step's time goes, by op: TensorFlow's profiler around a few calls, summed by op type.

Used by `train_throughput.py --profile_steps=N` (and usable on any callable):

    summary = op_profile.profile(lambda: step(next(it)), steps=3)
    print(op_profile.format_table(summary))

The profiler records one event per op execution on the executor's threads
(named "node:OpType"), nested in the executor's own `ExecutorState::Process`
events; each event's self time (minus the events nested in it) is what is summed; in an XLA program the ops are fused and only the cluster shows. The
summary gives per step: wall time, the time all threads spent running ops,
the executor's time around them (dispatch: what a graph pays per op, however
small the op), and each op type's time and count, grouped into
matmul / elementwise / loop state (TensorList, TensorArray) / control flow /
cast. Op times are summed over threads, so with two cores they can add up to
more than the wall time.
"""
import collections
import glob
import os
import re
import tempfile
import time

MATMUL = re.compile(r"MatMul|Conv|Einsum")
LOOP_STATE = re.compile(r"^Tensor(List|Array)|Stack")
CONTROL = {"Enter", "Exit", "Merge", "Switch", "NextIteration", "LoopCond", "Identity",
           "IdentityN", "NoOp", "Const", "_Recv", "_Send", "_HostRecv", "_HostSend", "_Arg",
           "_Retval", "StatelessIf", "StatelessWhile", "While", "If", "PartitionedCall",
           "StatefulPartitionedCall"}
GROUPS = ("matmul", "elementwise", "loop state", "control flow", "cast", "XLA program")


def group_of(op_type):
  if op_type in ("_XlaRun", "XlaLaunch", "_XlaCompile"):
    return "XLA program"
  if MATMUL.search(op_type):
    return "matmul"
  if LOOP_STATE.search(op_type):
    return "loop state"
  if op_type in CONTROL:
    return "control flow"
  if op_type == "Cast":
    return "cast"
  return "elementwise"


ASYNC = re.compile(r":(__|(Stateful)?PartitionedCall$|(Stateless)?(While|If)$)")


def counted(name):
  """The executor's events and its ops' (not their inner regions, e.g. ParallelFor)."""
  return name == "ExecutorState::Process" or (
      ":" in name and "::" not in name and " " not in name and not ASYNC.search(name))


def self_times(line, names):
  """(name, self picoseconds) of each event on one thread: its time minus its children's.

  Only the executor's and the ops' events take part. A function-call op's
  event lasts until its function has finished, its ops running on any thread
  meanwhile: it is left out (its ops are counted).
  """
  events = sorted((e for e in line.events if counted(names[e.metadata_id].name)),
                  key=lambda e: (e.offset_ps, -e.duration_ps))
  out, stack = [], []  # stack of [end_ps, index into out]
  for e in events:
    # An event is a child of the innermost one that contains it whole (the
    # executor's events on one thread can overlap by a microsecond).
    while stack and stack[-1][0] < e.offset_ps + e.duration_ps:
      stack.pop()
    if stack:
      out[stack[-1][1]][1] -= e.duration_ps
    out.append([names[e.metadata_id].name, e.duration_ps])
    stack.append([e.offset_ps + e.duration_ps, len(out) - 1])
  return out


def profile(fn, steps, logdir=None):
  """Runs `fn` `steps` times under the profiler; returns the per-step summary (dict).

  `fn` is timed first without the profiler (`wall_ms`) and then under it
  (`profiled_wall_ms`): tracing every op (host tracer level 3) costs a few
  microseconds per op, which the small ops of a recurrence feel.
  """
  import tensorflow as tf
  from tensorflow.tsl.profiler.protobuf import xplane_pb2

  def run():
    start = time.perf_counter()
    for _ in range(steps):
      out = fn()
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)
    return (time.perf_counter() - start) / steps

  wall = run()
  logdir = logdir or tempfile.mkdtemp(prefix="op_profile_")
  tf.profiler.experimental.start(
      logdir, options=tf.profiler.experimental.ProfilerOptions(host_tracer_level=3))
  profiled_wall = run()
  tf.profiler.experimental.stop()
  files = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
  space = xplane_pb2.XSpace()
  with open(max(files, key=os.path.getmtime), "rb") as f:
    space.ParseFromString(f.read())
  ps_per_ms = 1e9 * steps
  by_type = collections.defaultdict(lambda: [0.0, 0])
  by_node = collections.Counter()
  dispatch = 0.0
  for plane in space.planes:
    if not plane.name.startswith("/host:"):
      continue
    for line in plane.lines:
      if line.name == "python":
        continue
      for name, ps in self_times(line, plane.event_metadata):
        if name == "ExecutorState::Process":
          dispatch += ps
        else:
          op_type = name.rsplit(":", 1)[1]
          by_type[op_type][0] += ps
          by_type[op_type][1] += 1
          by_node[name] += ps
  groups = collections.Counter()
  for op_type, (ps, _) in by_type.items():
    groups[group_of(op_type)] += ps / ps_per_ms
  return {
      "wall_ms": 1000 * wall,
      "profiled_wall_ms": 1000 * profiled_wall,
      "op_ms": sum(ps for ps, _ in by_type.values()) / ps_per_ms,
      "dispatch_ms": dispatch / ps_per_ms,
      "op_executions": sum(n for _, n in by_type.values()) / steps,
      "groups_ms": {g: round(groups[g], 1) for g in GROUPS if groups[g]},
      "types": sorted(((t, ps / ps_per_ms, n / steps) for t, (ps, n) in by_type.items()),
                      key=lambda r: -r[1]),
      "nodes": sorted(((t, ps / ps_per_ms) for t, ps in by_node.items()), key=lambda r: -r[1]),
  }


def format_table(summary, top=15):
  """The summary as text: totals, the groups, the `top` op types by time."""
  s = summary
  busy = s["op_ms"] + s["dispatch_ms"]
  lines = [f"per step: {s['wall_ms']:.0f} ms wall ({s['profiled_wall_ms']:.0f} ms profiled); "
           f"threads ran ops for {s['op_ms']:.0f} ms and "
           f"dispatched for {s['dispatch_ms']:.0f} ms ({s['op_executions']:.0f} op executions)"]
  for g, ms in s["groups_ms"].items():
    lines.append(f"  {g:<13} {ms:8.1f} ms  {100 * ms / busy:5.1f}%")
  lines.append(f"  {'dispatch':<13} {s['dispatch_ms']:8.1f} ms  {100 * s['dispatch_ms'] / busy:5.1f}%")
  lines.append(f"  top {top} op types (ms per step, executions per step):")
  for op_type, ms, n in s["types"][:top]:
    lines.append(f"    {op_type:<28} {ms:8.1f} ms {n:8.0f}x  ({group_of(op_type)})")
  return "\n".join(lines)
