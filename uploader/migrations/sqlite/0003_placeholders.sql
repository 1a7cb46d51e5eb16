-- What a page paints before the first image byte: the ThumbHash (standard base64 of 5-25
-- bytes) and the dominant colour (#rrggbb). Both NULL on rows from before; they are set
-- together at upload, or later by `pixgate backfill-placeholders`. SQLite adds one column
-- per statement, and a column's CHECK may only name that column.
ALTER TABLE images ADD COLUMN thumbhash TEXT
    CHECK (thumbhash IS NULL OR (length(thumbhash) BETWEEN 8 AND 58
           AND thumbhash NOT GLOB '*[^A-Za-z0-9+/=]*'));
ALTER TABLE images ADD COLUMN dominant_color TEXT
    CHECK (dominant_color IS NULL OR (length(dominant_color) = 7
           AND dominant_color GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'));

-- The backfill walks the live rows still without one, by id; empty once it has run.
CREATE INDEX images_without_placeholder ON images (image_id)
    WHERE thumbhash IS NULL AND deleted_at IS NULL;
