"""The quality benchmark: bytes against perceptual quality (SSIMULACRA2) on real photos,
pixgate against sharp, thumbor and libvips at their defaults (`make bench-quality`).

Modules, one concern each: corpus (photos, geometries, variants), systems (requests and
the in-process renderers: pixgate, libvips), peers (sharp, thumbor), ssimulacra2 (the
metric), scoring (decode, cache, workers), bdrate (Bjøntegaard delta rate), results (the
records), analysis (figures from the records), run (the command), report and plots.
"""
