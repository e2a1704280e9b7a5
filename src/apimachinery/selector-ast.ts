/**
 * Parsed label and field selectors. The AST is what a storage backend translates into its own query
 * (SQL WHERE, a filter while paging an etcd range); matching in memory uses the same AST.
 */

/** One label requirement, as in k8s.io/apimachinery/pkg/labels. */
export type LabelRequirement =
  | { key: string; op: "=" | "!="; value: string } // "==" is parsed as "="
  | { key: string; op: "in" | "notin"; values: string[] } // values sorted, de-duplicated
  | { key: string; op: "exists" | "!" }
  // `k>n`, `k<n`: n is an int64 (Go's strconv.ParseInt), held as a bigint because a JS number is exact
  // only to 2^53; a bigint compares exactly with a number too. Never JSON.stringify a selector.
  | { key: string; op: "gt" | "lt"; value: bigint };

/** A label selector is the AND of its requirements; an empty list matches everything. */
export type LabelSelector = LabelRequirement[];

/** Only these fields are selectable on the report kinds, as for CRDs. */
export type SelectableField = "metadata.name" | "metadata.namespace";

export interface FieldRequirement {
  field: SelectableField;
  op: "=" | "!="; // "==" is parsed as "="
  value: string;
}

/** A field selector is the AND of its requirements; an empty list matches everything. */
export type FieldSelector = FieldRequirement[];
