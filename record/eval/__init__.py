"""Evaluation: ROD2021 post-processing and OLS-based AP / AR, CARRADA confusion-matrix metrics."""
