-- One row per uploaded image. Rows are soft-deleted (deleted_at) and purged by the reaper
-- once the original is gone from storage.
CREATE TABLE images (
    image_id          text PRIMARY KEY,
    owner             text,
    title             text NOT NULL,
    description       text NOT NULL,
    width             integer NOT NULL CHECK (width > 0),
    height            integer NOT NULL CHECK (height > 0),
    format            text NOT NULL,
    size_bytes        bigint NOT NULL CHECK (size_bytes >= 0),
    sha256            text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    storage_key       text NOT NULL,
    processing_status text NOT NULL,
    exif              jsonb NOT NULL DEFAULT '{}'::jsonb,
    uploaded_at       timestamptz NOT NULL,
    deleted_at        timestamptz
);

-- One live image per (owner, bytes); NULL owner (anonymous) counts as one owner.
CREATE UNIQUE INDEX images_live_owner_sha256 ON images ((COALESCE(owner, '')), sha256)
    WHERE deleted_at IS NULL;

-- The reaper walks deleted rows, oldest deletion first.
CREATE INDEX images_deleted_at ON images (deleted_at) WHERE deleted_at IS NOT NULL;
