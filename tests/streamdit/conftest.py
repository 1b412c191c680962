"""Make the shared test helpers of this folder importable (pytest runs with --import-mode=importlib)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the test modules here and in the subfolders import flow_oracle, causal_vae_checks, small_models
