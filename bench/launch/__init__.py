"""Launching many cells: grid files into cells (``grid``), cells onto submitit's local, debug and
SLURM executors with requeue and status (``executors``), the stored cell list that keeps
``bench status`` free of plugins (``cell_list``), and ``bench matrix`` (``matrix``).

The top of the harness: may import every other folder; nothing in bench imports it except the
command line.
"""
