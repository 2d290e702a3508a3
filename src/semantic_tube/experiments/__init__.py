"""Experiments: grids of `stp train` runs and what is read from their folders.

- `grid`: a sweep file expanded into points (methods, data rule, seeds); no torch.
- `sweep`: running the points, one `stp train` process and one folder each (resumable).
- `shards`, `locks`, `validate`: splitting a grid over machines, one process per point, and
  checking every point's configuration with `stp train`'s parser before anything trains.
- `tune`: choosing stp_lambda on a pilot subset.
- `runs`, `stats`, `figures`, `report`: reading run folders into tables, tests and figures.

Nothing here reaches inside training: a run is `python -m semantic_tube train --config ...`, and
its results are the files it writes.
"""
