"""Qt-free measurements and views on original values: ROI statistics, SUV, MPR planes, MIP,
per-source contribution and residual maps (plain numpy)."""
