"""Grading untrusted notebooks: the fresh-process re-grade (`regrade`) and its nbgrader
preprocessor (`nbgrader_step`, named in nbgrader_config.py)."""
