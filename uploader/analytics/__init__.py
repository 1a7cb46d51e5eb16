"""Views and edge figures from the edge's access logs, and the storage cost of the originals.

- `formats`: one parser per log format (the nginx edge's JSON, CloudFront standard logs,
  Cloudflare Logpush JSON), each a pure function from a line to an `EdgeRequest` or None;
- `attribution`: which image a request URI shows, by the proxy's own URL grammars;
- `batch`: a batch of requests summed into per-image, per-day views and per-minute figures;
- `store`: the database side (PostgreSQL and SQLite): batches and log positions written in
  one transaction, and the figures read back;
- `ingest`: reads logs incrementally, follows rotation, commits batches exactly once;
- `metrics`, `report`, `storage_cost`: what operators read; `cli`: `pixgate analytics`.
"""
