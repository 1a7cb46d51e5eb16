-- What the metadata endpoint says of an animation: its frames, the length of one pass and
-- its loop count (0: forever), read from the header at upload. Stills: 1, 0, 0.
ALTER TABLE images ADD COLUMN frames integer NOT NULL DEFAULT 1 CHECK (frames > 0);
ALTER TABLE images ADD COLUMN duration_ms bigint NOT NULL DEFAULT 0 CHECK (duration_ms >= 0);
ALTER TABLE images ADD COLUMN loop integer NOT NULL DEFAULT 0 CHECK (loop >= 0);
