"""The eval harness: benchmarks, scorers, systems, the runner and reports that test the
compression-coverage hypothesis."""
