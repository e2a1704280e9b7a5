/**
 * An update's changelog row holds the object and the version it replaced. Compressed, a 6 KB report
 * is about 1.3 KB, so the two together pass the 2 KB at which PostgreSQL starts moving values out of
 * the row: one of them went to the TOAST table, an extra heap row and index entry per write (28
 * blocks touched per update instead of about 8 for a plain UPDATE). With a 4 KB target both values
 * are compressed and kept in the row; larger reports still go to TOAST, as before. Applies to rows
 * written from now on.
 */
export const changelogInline = `
ALTER TABLE report_changelog SET (toast_tuple_target = 4096);
`;
