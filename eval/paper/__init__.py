"""The paper experiment (`python -m eval paper`): generate videos with the bundled systems, score them with
the metrics of `eval`, write the table, plots and a human-eval study. It uses the metric library; the
library does not use it.

- `run`: the systems, generation and scoring (`run_paper`).
- `report`: the table, the claims checked against the intervals, the plots.
- `settings`: how much a run generates (kept light, so the CLI's help does not import streamdit).
- `study`: the human-eval study directory of the generated videos.
"""
