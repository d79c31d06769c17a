"""Foundations every stage uses: errors and exit codes, atomic writes, SQL quoting, signals,
shipped-data paths, the findings model and the local-server manager. Imports nothing else
from the project."""
