import { parseFieldTerms } from "../apimachinery/fields.js";
import { parseLabelSelector } from "../apimachinery/labels.js";
import type { LabelRequirement } from "../apimachinery/selector-ast.js";

/**
 * The field and label selectors a SubjectAccessReview carries (AuthorizeWithSelectors, beta and on by
 * default since Kubernetes 1.32), as the webhook authorizer of k8s.io/apiserver builds them
 * (plugin/pkg/authorizer/webhook/webhook.go resourceAttributesFrom, fieldSelectorToAuthorizationAPI,
 * labelSelectorToAuthorizationAPI) from the attributes filters/authorization.go GetAuthorizerAttributes
 * parses. Only `requirements` is sent, never `rawSelector`: the reviewer should not have to parse a
 * query the way this server does (CVE-2022-2880, see authorization/v1 FieldSelectorAttributes).
 */

/** metav1.FieldSelectorRequirement and metav1.LabelSelectorRequirement; `values` omitted when empty. */
export interface SarSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

/** authorizationv1.FieldSelectorAttributes / LabelSelectorAttributes, as the webhook fills them. */
export interface SarSelectorAttributes {
  requirements: SarSelectorRequirement[];
}

/**
 * A field selector's requirements: `=` and `==` become In, `!=` NotIn, each with its one value, on any
 * field (fields.ParseSelector; which fields a kind supports is the handler's 400, after authorization).
 * A selector that does not parse narrows nothing: GetAuthorizerAttributes keeps no requirements then,
 * and the review is for the whole list (the handler then answers 400).
 */
export function fieldSelectorRequirements(raw: string): SarSelectorRequirement[] {
  try {
    return parseFieldTerms(raw).map((t) => ({
      key: t.field,
      operator: t.op === "=" ? "In" : "NotIn",
      values: [t.value],
    }));
  } catch {
    return [];
  }
}

function labelRequirement(r: LabelRequirement): SarSelectorRequirement | undefined {
  switch (r.op) {
    case "=":
      return { key: r.key, operator: "In", values: [r.value] };
    case "!=":
      return { key: r.key, operator: "NotIn", values: [r.value] };
    case "in":
      return { key: r.key, operator: "In", values: r.values };
    case "notin":
      return { key: r.key, operator: "NotIn", values: r.values };
    case "exists":
      return { key: r.key, operator: "Exists" };
    case "!":
      return { key: r.key, operator: "DoesNotExist" };
    case "gt":
    case "lt":
      // No LabelSelectorOperator says it; requirements are ANDed, so leaving one out only widens
      // what is reviewed, never what is allowed.
      return undefined;
  }
}

/**
 * A label selector's requirements, sorted by key with `in` values sorted as labels.Parse leaves them;
 * `>` and `<` left out. A selector that does not parse narrows nothing, as for fields.
 */
export function labelSelectorRequirements(raw: string): SarSelectorRequirement[] {
  let parsed: LabelRequirement[];
  try {
    parsed = parseLabelSelector(raw);
  } catch {
    return [];
  }
  const out: SarSelectorRequirement[] = [];
  for (const r of parsed) {
    const req = labelRequirement(r);
    if (req) out.push(req);
  }
  return out;
}
