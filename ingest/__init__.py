"""Ingestion of the movies-and-series data lake's Raw zone: local CSV files and TMDB."""

__version__ = "0.1.0"
