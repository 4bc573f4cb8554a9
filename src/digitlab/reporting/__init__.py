"""Reporting: a model's evaluation on the test set, its figures and the self-contained HTML report."""
