"""Studies: specs (specs.py), the grid driver that trains and evaluates every cell (grid.py), its statistics
and results (results.py) and its report with figures (report.py)."""
