"""Code shared by the benchmark scripts in bench/ (run, mmcp_bench, scan_bench).

Split by job: machine (what the figures were measured on), build (Meson),
stats (medians, ratios, number formats), markdown (tables, README sections),
chart (SVG bar charts, no dependencies), processes (timing whole processes,
interleaved runs, dropping the page cache). Python 3 standard library only.
"""
