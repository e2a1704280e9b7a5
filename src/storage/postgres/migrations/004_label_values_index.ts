/**
 * A second GIN index on the labels, with jsonb_path_ops: it holds one entry per label (a hash of key
 * and value), so `labels @> {"k": "v"}` reads the posting list of exactly the reports with that
 * label. The first index (jsonb_ops, migration 1) holds keys and values as separate entries, and
 * every report of a Kyverno cluster carries the same few keys: an equality probe there intersected
 * a posting list of the whole table with the value's, which cost more than reading the table, so
 * the planner chose a sequential scan (2.3 ms against 0.14 ms per label-selected list of 11,000
 * reports). The jsonb_ops index stays for `key` and `!key` selectors (`?`), which this one cannot
 * serve. Creating it holds writes while it is built (2.3 s for 311,000 reports on a 2-core machine);
 * a DBA who would rather not may build it beforehand with CREATE INDEX CONCURRENTLY under this name.
 */
export const labelValuesIndex = `
CREATE INDEX IF NOT EXISTS report_objects_label_values ON report_objects USING gin (labels jsonb_path_ops);
`;
