/**
 * An update's changelog row no longer copies the object it replaced when that version's own row is
 * young: readers take it from the row of `prev_rv` instead. Before pruning such a row, the pruner
 * copies it into every surviving row that still points at it; this index finds them.
 */
export const changelogPrev = `
CREATE INDEX report_changelog_prev_pending ON report_changelog (prev_rv)
  WHERE kind = 'M' AND prev_data IS NULL;
`;
