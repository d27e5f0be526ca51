"""Shared pytest fixtures for corecast's end-to-end suites."""
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "build" / "bin"
TBIN = ROOT / "build" / "tests"
