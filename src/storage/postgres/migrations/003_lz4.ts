/**
 * Reports are compressed when PostgreSQL stores them (above 2 KB): with pglz, the default, that
 * compression was a large share of the database's CPU per write, three times per update (the row and
 * the changelog's two copies), and decompression a share of every read. lz4 does the same work
 * several times faster at a similar size. PostgreSQL 14+ built with lz4 only (Debian's and the
 * official images are); elsewhere this changes nothing. Applies to values written from now on.
 */
export const lz4 = `
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE report_objects ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE report_changelog ALTER COLUMN data SET COMPRESSION lz4,
                                 ALTER COLUMN prev_data SET COMPRESSION lz4;
  END IF;
END
$$;
`;
