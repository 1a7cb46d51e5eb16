-- Views and edge figures, counted from the edge's access logs by `pixgate analytics ingest`.
-- The counts and the position of each log are written in one transaction, so a crash or a
-- restart neither loses nor double-counts a line.

-- Views of one image on one UTC day (day is YYYY-MM-DD text).
CREATE TABLE image_views (
    image_id TEXT NOT NULL REFERENCES images (image_id) ON DELETE CASCADE,
    day      TEXT NOT NULL,
    views    INTEGER NOT NULL CHECK (views >= 0),
    PRIMARY KEY (image_id, day)
) WITHOUT ROWID;

-- Every edge request by minute (Unix time / 60), status, cache outcome, served format and
-- Accept class: the hit ratio and bytes by format and status come from here.
CREATE TABLE edge_traffic (
    minute        INTEGER NOT NULL,
    status        INTEGER NOT NULL,
    cache_status  TEXT NOT NULL,
    format        TEXT NOT NULL,
    accept_class  TEXT NOT NULL,
    requests      INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    views         INTEGER NOT NULL,
    unattributed  INTEGER NOT NULL,
    PRIMARY KEY (minute, status, cache_status, format, accept_class)
) WITHOUT ROWID;

-- Edge request time by minute, as a histogram: requests at or under `le_ms` milliseconds
-- and above the next smaller bound (the last bucket's bound is 2147483647).
CREATE TABLE edge_latency (
    minute   INTEGER NOT NULL,
    le_ms    INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (minute, le_ms)
) WITHOUT ROWID;

-- Where each log has been read up to: the file (device and inode, and a digest of its first
-- bytes, which tells a copytruncate rotation apart) and the offset after the last line counted.
CREATE TABLE log_positions (
    source       TEXT PRIMARY KEY NOT NULL,
    device       INTEGER NOT NULL,
    inode        INTEGER NOT NULL,
    offset_bytes INTEGER NOT NULL CHECK (offset_bytes >= 0),
    head_bytes   INTEGER NOT NULL CHECK (head_bytes >= 0),
    head_sha256  TEXT NOT NULL,
    lines        INTEGER NOT NULL,
    updated_at   TEXT NOT NULL
);
