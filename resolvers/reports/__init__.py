"""Reporting: grouped aggregates, the lead funnel, score histograms and account rollups."""
