-- How many host ports one session of a class may publish, all its containers together.
ALTER TABLE classes ADD COLUMN ports BIGINT NOT NULL DEFAULT 10;
