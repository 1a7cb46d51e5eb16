-- What a page paints before the first image byte: the ThumbHash (standard base64 of 5-25
-- bytes) and the dominant colour (#rrggbb). Both NULL on rows from before; they are set
-- together at upload, or later by `pixgate backfill-placeholders`.
ALTER TABLE images
    ADD COLUMN thumbhash      text CHECK (thumbhash ~ '^[A-Za-z0-9+/]{8,56}={0,2}$'),
    ADD COLUMN dominant_color text CHECK (dominant_color ~ '^#[0-9a-f]{6}$'),
    ADD CONSTRAINT images_placeholder_together
        CHECK ((thumbhash IS NULL) = (dominant_color IS NULL));

-- The backfill walks the live rows still without one, by id; empty once it has run.
CREATE INDEX images_without_placeholder ON images (image_id)
    WHERE thumbhash IS NULL AND deleted_at IS NULL;
