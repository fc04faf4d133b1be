"""Protocol files of the example plugin (entry point group mer_bench.protocols)."""
