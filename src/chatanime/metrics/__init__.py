"""Metrics: diversity, statistics, agreement, style control and judge calibration."""
