"""Latency-aware planner of Qiao et al. (sections II-B, II-C, III-E). Pure numpy/scipy:
importable without GNU Radio (the closed-loop block ``gensem_plan_controller`` wraps it)."""

from gensem.planner.calibration import Calibration, default_calibration, get_calibration, load_calibration
from gensem.planner.lemma1 import MODULATIONS, baseline, plan, solve_continuous, solve_discrete
from gensem.planner.params import TABLE_I, SystemParams
from gensem.planner.table import figure4_data, modulation_table, write_figure4

__all__ = [
    "MODULATIONS",
    "TABLE_I",
    "Calibration",
    "SystemParams",
    "baseline",
    "default_calibration",
    "get_calibration",
    "figure4_data",
    "load_calibration",
    "modulation_table",
    "plan",
    "solve_continuous",
    "solve_discrete",
    "write_figure4",
]
