-- One row per uploaded image. Rows are soft-deleted (deleted_at) and purged by the reaper
-- once the original is gone from storage. Timestamps are ISO-8601 UTC text
-- (YYYY-MM-DDTHH:MM:SS.ffffff+00:00), so they sort as text; exif is JSON text.
CREATE TABLE images (
    image_id          TEXT PRIMARY KEY NOT NULL,
    owner             TEXT,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    width             INTEGER NOT NULL CHECK (width > 0),
    height            INTEGER NOT NULL CHECK (height > 0),
    format            TEXT NOT NULL,
    size_bytes        INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256            TEXT NOT NULL
                      CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    storage_key       TEXT NOT NULL,
    processing_status TEXT NOT NULL,
    exif              TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(exif)),
    uploaded_at       TEXT NOT NULL,
    deleted_at        TEXT
);

-- One live image per (owner, bytes); NULL owner (anonymous) counts as one owner.
CREATE UNIQUE INDEX images_live_owner_sha256 ON images (COALESCE(owner, ''), sha256)
    WHERE deleted_at IS NULL;

-- The reaper walks deleted rows, oldest deletion first.
CREATE INDEX images_deleted_at ON images (deleted_at) WHERE deleted_at IS NOT NULL;
