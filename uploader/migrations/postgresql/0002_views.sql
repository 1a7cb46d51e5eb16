-- Views and edge figures, counted from the edge's access logs by `pixgate analytics ingest`.
-- The counts and the position of each log are written in one transaction, so a crash or a
-- restart neither loses nor double-counts a line.

-- Views of one image on one UTC day. Purging an image's row (the reaper) drops its views.
CREATE TABLE image_views (
    image_id text NOT NULL REFERENCES images (image_id) ON DELETE CASCADE,
    day      date NOT NULL,
    views    bigint NOT NULL CHECK (views >= 0),
    PRIMARY KEY (image_id, day)
);

-- Every edge request by minute (Unix time / 60), status, cache outcome, served format and
-- Accept class: the hit ratio and bytes by format and status come from here.
CREATE TABLE edge_traffic (
    minute        bigint NOT NULL,
    status        integer NOT NULL,
    cache_status  text NOT NULL,
    format        text NOT NULL,
    accept_class  text NOT NULL,
    requests      bigint NOT NULL,
    bytes         bigint NOT NULL,
    views         bigint NOT NULL,
    unattributed  bigint NOT NULL,
    PRIMARY KEY (minute, status, cache_status, format, accept_class)
);

-- Edge request time by minute, as a histogram: requests at or under `le_ms` milliseconds
-- and above the next smaller bound (the last bucket's bound is 2147483647).
CREATE TABLE edge_latency (
    minute   bigint NOT NULL,
    le_ms    integer NOT NULL,
    requests bigint NOT NULL,
    PRIMARY KEY (minute, le_ms)
);

-- Where each log has been read up to: the file (device and inode, and a digest of its first
-- bytes, which tells a copytruncate rotation apart) and the offset after the last line counted.
CREATE TABLE log_positions (
    source       text PRIMARY KEY,
    device       bigint NOT NULL,
    inode        bigint NOT NULL,
    offset_bytes bigint NOT NULL CHECK (offset_bytes >= 0),
    head_bytes   integer NOT NULL CHECK (head_bytes >= 0),
    head_sha256  text NOT NULL,
    lines        bigint NOT NULL,
    updated_at   timestamptz NOT NULL
);
